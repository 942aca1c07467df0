import HostSupport
import Testing

@testable import HostPlacement
@testable import ResourceAllocator

/// Seeded instances mixing affinity and anti-affinity groups on heterogeneous hosts (some
/// with overcommit and reservations), placed in two batches so that the second one meets
/// groups pinned by the first.
private struct GroupedInstance {
    var hosts: [HostResources]
    var batches: [[PlacementRequest]]

    init(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        func draw(_ count: UInt64) -> UInt64 { rng.next() % count }
        hosts = try (0..<12).map { i in
            try HostResources(
                capacity: [.vcpus: 16 + 8 * draw(3), .memory: (32 + 32 * draw(3)) << 30],
                overcommit: i % 3 == 0 ? [.vcpus: 2] : [:], reserved: i % 4 == 0 ? [.memory: 4 << 30] : [:])
        }
        let requests = (0..<80).map { i in
            PlacementRequest(
                id: "vm\(i)", demand: [.vcpus: 1 + draw(8), .memory: (1 + draw(16)) << 30],
                affinityGroup: draw(2) == 0 ? "aff\(draw(12))" : nil,
                antiAffinityGroup: draw(3) == 0 ? "anti\(draw(4))" : nil)
        }
        batches = [Array(requests[..<50]), Array(requests[50...])]
    }

    /// Places the batches in order, returning each batch's result and the final cluster.
    func run(_ strategy: some PlacementStrategy) throws -> (results: [PlacementResult], cluster: Cluster) {
        var cluster = Cluster(hosts: hosts)
        let results = try batches.map { try cluster.place($0, using: strategy) }
        return (results, cluster)
    }
}

@Suite struct AffinityGroupRandomTests {
    @Test(arguments: 0..<strategies.count)
    func placementsRespectCapacitiesAndBothKindsOfGroups(strategyIndex: Int) throws {
        let strategy = strategies[strategyIndex]
        var groupsPlacedWhole = 0, groupsLeftOut = 0
        for seed in UInt64(0)..<10 {
            let instance = try GroupedInstance(seed: seed)
            let (results, cluster) = try instance.run(strategy)
            let again = try instance.run(strategy)
            #expect(again.results == results && again.cluster.hosts == cluster.hosts, "\(strategy.name) seed \(seed)")

            var assignments: [String: Int] = [:]
            for result in results { assignments.merge(result.assignments) { $1 } }
            var used = [ResourceVector](repeating: [:], count: instance.hosts.count)
            var affinityHost: [String: Int] = [:], antiHosts: [String: Set<Int>] = [:]
            for r in instance.batches.joined() {
                guard let h = assignments[r.id] else { continue }
                for kind in r.demand.kinds { used[h][kind] += r.demand[kind] }
                if let g = r.affinityGroup { #expect(affinityHost.updateValue(h, forKey: g) ?? h == h, "\(g)") }
                if let g = r.antiAffinityGroup { #expect(antiHosts[g, default: []].insert(h).inserted, "\(g)") }
            }
            for (h, host) in instance.hosts.enumerated() {
                for kind in host.allocatable.kinds { #expect(used[h][kind] <= host.allocatable[kind]) }
                #expect(cluster.hosts[h].used == used[h])
            }

            var pinned = Set<String>()  // groups with members placed before the batch
            for (batch, result) in zip(instance.batches, results) {
                #expect(Set(result.unplacedReasons.keys) == Set(result.unplaced))
                let groups = Dictionary(grouping: batch.filter { $0.affinityGroup != nil }, by: { $0.affinityGroup! })
                for (group, members) in groups.sorted(by: { $0.key < $1.key }) {
                    guard !pinned.contains(group) else {
                        let reason = UnplacedReason.affinityHostUnavailable(group: group, host: affinityHost[group]!)
                        #expect(
                            members.allSatisfy {
                                result.assignments[$0.id] != nil || result.unplacedReasons[$0.id] == reason
                            })
                        continue
                    }
                    let placed = members.filter { result.assignments[$0.id] != nil }
                    #expect(placed.isEmpty || placed.count == members.count, "\(strategy.name) seed \(seed) \(group)")
                    guard placed.isEmpty else {
                        if members.count > 1 { groupsPlacedWhole += 1 }
                        continue
                    }
                    groupsLeftOut += 1
                    for m in members where cluster.prepare(m).isPlaceable {
                        #expect(result.unplacedReasons[m.id] == .affinityGroupDoesNotFit(group: group))
                    }
                    // Hosts only fill up, so a group left out for good fits on no host even now.
                    guard cluster.affinityHost(of: group) == nil else { continue }
                    let unit = cluster.placementUnits(for: members.map { cluster.prepare($0) })
                    #expect(unit.count == 1 && !cluster.hosts.indices.contains { cluster.canPlace(unit[0], on: $0) })
                }
                pinned.formUnion(batch.filter { result.assignments[$0.id] != nil }.compactMap(\.affinityGroup))
            }
        }
        #expect(groupsPlacedWhole > 0 && groupsLeftOut > 0, "\(strategy.name): \(groupsPlacedWhole) / \(groupsLeftOut)")
    }
}
