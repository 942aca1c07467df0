import HostSupport
import Testing

@testable import HostPlacement

/// On small instances (three hosts, eight requests, two resources) every built-in strategy puts
/// every request exactly where its definition says, as worked out here by trying each host in
/// turn: first-fit takes the first host with room; first-fit-decreasing does so after sorting
/// by the sum, product or maximum of the normalised demand (ties: batch order); best-fit takes
/// the host with the least normalised capacity left over (ties: the lowest index); DotProduct
/// and L2 fill hosts in order, each time taking the remaining request with the largest
/// demand·free or the smallest ‖free − demand‖ (ties: batch order). Normalisation divides each
/// resource by the largest allocatable amount among the hosts.
@Suite struct PlacementReferenceTests {
    struct Instance {
        var hosts: [[UInt64]]  // allocatable vcpus, memory
        var demands: [[UInt64]]

        init(seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            hosts = (0..<3).map { _ in [8 + rng.next() % 25, 16 + rng.next() % 49] }
            demands = (0..<8).map { _ in [1 + rng.next() % 12, 1 + rng.next() % 24] }
        }

        var scale: [Double] { (0..<2).map { j in 1 / Double(hosts.map { $0[j] }.max()!) } }
        func normalized(_ i: Int) -> [Double] { (0..<2).map { Double(demands[i][$0]) * scale[$0] } }
    }

    enum Rule {
        case firstFit
        case decreasing(DemandSizeKey)
        case bestFit(DemandSizeKey?)
        case dotProduct, l2
    }

    /// Where `rule` must put each request (nil: nowhere), by trying every host.
    static func reference(_ rule: Rule, _ instance: Instance) -> [Int?] {
        var free = instance.hosts
        var placed = [Int?](repeating: nil, count: instance.demands.count)
        func fits(_ i: Int, _ h: Int) -> Bool { (0..<2).allSatisfy { instance.demands[i][$0] <= free[h][$0] } }
        func take(_ i: Int, _ h: Int) {
            for j in 0..<2 { free[h][j] -= instance.demands[i][j] }
            placed[i] = h
        }
        func decreasingOrder(_ key: DemandSizeKey) -> [Int] {
            let sizes = instance.demands.indices.map { i -> Double in
                let n = instance.normalized(i)
                switch key {
                case .sum: return n[0] + n[1]
                case .product: return n[0] * n[1]
                case .max: return Swift.max(n[0], n[1])
                }
            }
            return instance.demands.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }
        }
        switch rule {
        case .firstFit, .decreasing:
            let order: [Int]
            if case .decreasing(let key) = rule {
                order = decreasingOrder(key)
            } else {
                order = Array(instance.demands.indices)
            }
            for i in order {
                if let h = free.indices.first(where: { fits(i, $0) }) { take(i, h) }
            }
        case .bestFit(let key):
            for i in key.map(decreasingOrder) ?? Array(instance.demands.indices) {
                var best: (host: Int, left: Double)?
                for h in free.indices where fits(i, h) {
                    let left = (0..<2).map { Double(free[h][$0] - instance.demands[i][$0]) * instance.scale[$0] }
                        .reduce(0, +)
                    if best == nil || left < best!.left { best = (h, left) }
                }
                if let best { take(i, best.host) }
            }
        case .dotProduct, .l2:
            var remaining = Set(instance.demands.indices)
            for h in free.indices {
                while true {
                    let freeNormalized = (0..<2).map { Double(free[h][$0]) * instance.scale[$0] }
                    var best: (request: Int, score: Double)?
                    for i in remaining.sorted() where fits(i, h) {
                        let n = instance.normalized(i)
                        let score: Double
                        if case .dotProduct = rule {
                            score = n[0] * freeNormalized[0] + n[1] * freeNormalized[1]
                        } else {
                            let a = freeNormalized[0] - n[0], b = freeNormalized[1] - n[1]
                            score = -(a * a + b * b)
                        }
                        if best == nil || score > best!.score { best = (i, score) }
                    }
                    guard let best else { break }
                    take(best.request, h)
                    remaining.remove(best.request)
                }
            }
        }
        return placed
    }

    static let rules: [(any PlacementStrategy, Rule)] = [
        (FirstFit(), .firstFit), (FirstFitDecreasing(key: .sum), .decreasing(.sum)),
        (FirstFitDecreasing(key: .product), .decreasing(.product)), (FirstFitDecreasing(key: .max), .decreasing(.max)),
        (BestFit(), .bestFit(nil)), (BestFit(decreasing: .sum), .bestFit(.sum)),
        (VectorGreedy.dotProduct, .dotProduct), (VectorGreedy.l2Norm, .l2),
    ]

    @Test(arguments: 0..<rules.count)
    func everyRequestGoesWhereTheDefinitionSays(ruleIndex: Int) throws {
        let (strategy, rule) = Self.rules[ruleIndex]
        var placedSomewhere = 0, leftOut = 0
        for seed in UInt64(0)..<300 {
            let instance = Instance(seed: seed)
            var cluster = Cluster(
                hosts: try instance.hosts.map { try HostResources(capacity: [.vcpus: $0[0], .memory: $0[1]]) })
            let requests = instance.demands.enumerated().map { i, d in
                PlacementRequest(id: "r\(i)", demand: [.vcpus: d[0], .memory: d[1]])
            }
            let result = try cluster.place(requests, using: strategy)
            let expected = Self.reference(rule, instance)
            let actual = instance.demands.indices.map { result.assignments["r\($0)"] }
            #expect(
                actual == expected,
                "\(strategy.name), seed \(seed): hosts \(instance.hosts), demands \(instance.demands)")
            placedSomewhere += expected.filter { $0 != nil }.count
            leftOut += expected.filter { $0 == nil }.count
        }
        // The instances are tight enough that some requests fit nowhere, loose enough that most fit.
        #expect(placedSomewhere > leftOut && leftOut > 0, "placed \(placedSomewhere), left out \(leftOut)")
    }
}
