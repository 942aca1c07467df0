import HostSupport
import Testing

@testable import HostPlacement
@testable import ResourceAllocator

/// Seeded vector bin-packing instances: identical hosts, 4 resources, demands drawn
/// uniformly from [lowPercent, highPercent] % of each capacity.
private struct Instance {
    static let capacity: ResourceVector = [.vcpus: 64, .memory: 256 << 30, .storage: 4 << 40, "net": 10_000]

    var requests: [PlacementRequest]

    init(
        seed: UInt64, count: Int, lowPercent: UInt64 = 5, highPercent: UInt64 = 35,
        affinityEvery: Int = 0, antiAffinityEvery: Int = 0
    ) {
        var rng = SplitMix64(seed: seed)
        requests = (0..<count).map { i in
            var demand = ResourceVector()
            for kind in Self.capacity.kinds {
                let percent = lowPercent + rng.next() % (highPercent - lowPercent + 1)
                demand[kind] = Self.capacity[kind] * percent / 100
            }
            let affinity = affinityEvery > 0 && i % affinityEvery == 0 ? "aff\(i / (affinityEvery * 3))" : nil
            let anti = antiAffinityEvery > 0 && i % antiAffinityEvery == 1 ? "anti\(i % 3)" : nil
            return PlacementRequest(id: "vm\(i)", demand: demand, affinityGroup: affinity, antiAffinityGroup: anti)
        }
    }

    func cluster(hosts: Int) throws -> Cluster {
        Cluster(hosts: try (0..<hosts).map { _ in try HostResources(capacity: Self.capacity) })
    }
}

/// Spreads load: the host left with the most free capacity (a caller-defined strategy).
private struct WorstFit: HostScoringStrategy {
    var name: String { "worst-fit" }
    func score(_ request: PreparedRequest, host: Int, in cluster: Cluster) -> Double {
        -BestFit().score(request, host: host, in: cluster)
    }
}

/// Every built-in strategy (first-fit, FFD by sum/product/max, best-fit(-decreasing), DotProduct, L2).
let builtInStrategies: [any PlacementStrategy] = [
    FirstFit(), FirstFitDecreasing(key: .sum), FirstFitDecreasing(key: .product), FirstFitDecreasing(key: .max),
    BestFit(), BestFit(decreasing: .sum), VectorGreedy.dotProduct, VectorGreedy.l2Norm,
]

/// The built-in strategies and a caller-defined one.
let strategies: [any PlacementStrategy] = builtInStrategies + [WorstFit()]

@Suite struct PlacementTests {
    @Test(arguments: 0..<strategies.count)
    func placementsRespectCapacitiesAndConstraints(strategyIndex: Int) throws {
        let strategy = strategies[strategyIndex]
        let instance = Instance(seed: 11, count: 300, affinityEvery: 7, antiAffinityEvery: 5)
        // Heterogeneous hosts, some with overcommit and reservations; too few for everything.
        let hosts = try (0..<40).map { i in
            try HostResources(
                capacity: Instance.capacity, overcommit: i % 3 == 0 ? [.vcpus: 2] : [:],
                reserved: i % 4 == 0 ? [.memory: 16 << 30] : [:])
        }
        var cluster = Cluster(hosts: hosts)
        let result = try cluster.place(instance.requests, using: strategy)
        #expect(result.assignments.count + result.unplaced.count == instance.requests.count)
        #expect(!result.assignments.isEmpty && !result.unplaced.isEmpty)

        var used = [ResourceVector](repeating: [:], count: hosts.count)
        var affinityHost: [String: Int] = [:]
        var antiSeen: Set<[String]> = []
        for r in instance.requests {
            guard let h = result.assignments[r.id] else { continue }
            for kind in r.demand.kinds { used[h][kind] += r.demand[kind] }
            if let g = r.affinityGroup { #expect(affinityHost.updateValue(h, forKey: g) ?? h == h) }
            if let g = r.antiAffinityGroup { #expect(antiSeen.insert([g, String(h)]).inserted) }
        }
        for (h, host) in hosts.enumerated() {
            for kind in host.allocatable.kinds { #expect(used[h][kind] <= host.allocatable[kind]) }
            #expect(cluster.hosts[h].used == used[h])
        }
    }

    @Test func resultsAreReproducible() throws {
        let instance = Instance(seed: 5, count: 200, affinityEvery: 9, antiAffinityEvery: 4)
        for strategy in strategies {
            var a = try instance.cluster(hosts: 100), b = try instance.cluster(hosts: 100)
            let ra = try a.place(instance.requests, using: strategy)
            let rb = try b.place(instance.requests, using: strategy)
            #expect(ra == rb, "\(strategy.name)")
        }
    }

    @Test func vectorGreedyUsesNoMoreBinsThanFFDOnAverage() throws {
        var bins: [String: Int] = [:]
        var lowerBounds = 0
        let instances = 12
        for seed in 0..<UInt64(instances) {
            let instance = Instance(seed: 100 + seed, count: 120)
            let bound = try #require(PackingBounds.lowerBound(requests: instance.requests, capacity: Instance.capacity))
            lowerBounds += bound
            for strategy in [
                FirstFitDecreasing(key: .sum), FirstFitDecreasing(key: .product),
                FirstFitDecreasing(key: .max), VectorGreedy.dotProduct, VectorGreedy.l2Norm,
            ] as [any PlacementStrategy] {
                var cluster = try instance.cluster(hosts: instance.requests.count)
                let result = try cluster.place(instance.requests, using: strategy)
                #expect(result.unplaced.isEmpty)
                #expect(result.hostsUsed >= bound)
                bins[strategy.name, default: 0] += result.hostsUsed
            }
        }
        let ffd = [bins["ffd-sum"]!, bins["ffd-product"]!, bins["ffd-max"]!].min()!
        #expect(bins["dot-product"]! <= ffd, "\(bins)")
        #expect(bins["l2-norm"]! <= ffd, "\(bins)")
        #expect(lowerBounds > 0)
    }

    @Test func lowerBound() {
        let cap: ResourceVector = [.vcpus: 10, .memory: 100]
        #expect(
            PackingBounds.lowerBound(demands: [[.vcpus: 6, .memory: 10], [.vcpus: 6, .memory: 10]], capacity: cap) == 2)
        #expect(
            PackingBounds.lowerBound(
                demands: [[.vcpus: 1, .memory: 60], [.vcpus: 1, .memory: 60], [.memory: 90]], capacity: cap) == 3)
        #expect(PackingBounds.lowerBound(demands: [], capacity: cap) == 0)
        #expect(PackingBounds.lowerBound(demands: [[.vcpus: 11]], capacity: cap) == nil)
        #expect(PackingBounds.lowerBound(demands: [["gpus": 1]], capacity: cap) == nil)
    }

    @Test func commitEnforcesConstraintsWhateverTheStrategySays() throws {
        var cluster = try Instance(seed: 0, count: 0).cluster(hosts: 3)
        let big = cluster.prepare(
            PlacementRequest(id: "big", demand: [.vcpus: 40], affinityGroup: "g", antiAffinityGroup: "x"))
        try cluster.commit(big, on: 0)
        let twin = cluster.prepare(PlacementRequest(id: "twin", demand: [.vcpus: 30]))
        #expect(throws: PlacementError.doesNotFit(.insufficient(resource: .vcpus, requested: 30, available: 24))) {
            try cluster.commit(twin, on: 0)
        }
        let friend = cluster.prepare(PlacementRequest(id: "friend", demand: [.vcpus: 1], affinityGroup: "g"))
        #expect(throws: PlacementError.affinityConflict(group: "g", host: 0)) { try cluster.commit(friend, on: 1) }
        let rival = cluster.prepare(PlacementRequest(id: "rival", demand: [.vcpus: 1], antiAffinityGroup: "x"))
        #expect(throws: PlacementError.antiAffinityConflict(group: "x", host: 0)) { try cluster.commit(rival, on: 0) }
        #expect(throws: PlacementError.duplicateRequest("big")) { try cluster.commit(big, on: 1) }
        #expect(throws: PlacementError.unknownHost(3)) { try cluster.commit(rival, on: 3) }
        #expect(!cluster.prepare(PlacementRequest(id: "gpu", demand: ["gpus": 1])).isPlaceable)
        try cluster.remove("big")
        #expect(cluster.affinityHost(of: "g") == nil)
        try cluster.commit(friend, on: 1)
        try cluster.commit(rival, on: 0)
        #expect(cluster.hostsUsed == 2)
        #expect(throws: PlacementError.unknownRequest("big")) { try cluster.remove("big") }
    }
}
