/// The bin-centric greedy heuristics of Panigrahy, Talwar, Uyeda and Wieder
/// ("Heuristics for Vector Bin Packing", MSR 2011).
///
/// Hosts are filled one at a time in index order. For the current host, among the
/// remaining requests that fit, the one with the best score is placed; when none fits,
/// the next host is opened. An affinity group is one item (a ``PlacementUnit``) scored by
/// its total demand and placed whole. Demand and free capacity are normalised per dimension
/// by the largest allocatable amount in the cluster. Ties go to the earliest request in the
/// batch. Each decision scans the remaining items: O(items × dimensions).
public struct VectorGreedy: PlacementStrategy {
    /// The score a request gets against the current host's free capacity.
    public enum Rule: String, Hashable, Sendable, Codable {
        /// Maximise `Σ demand_d × free_d` (DotProduct).
        case dotProduct
        /// Minimise `‖free − demand‖₂` (Norm-based greedy, L2).
        case l2Norm
    }

    /// The scoring rule.
    public var rule: Rule

    /// A greedy strategy scoring by `rule`.
    public init(_ rule: Rule) { self.rule = rule }

    /// DotProduct greedy.
    public static var dotProduct: VectorGreedy { VectorGreedy(.dotProduct) }
    /// L2-norm greedy.
    public static var l2Norm: VectorGreedy { VectorGreedy(.l2Norm) }

    /// `dot-product` or `l2-norm`.
    public var name: String { rule == .dotProduct ? "dot-product" : "l2-norm" }

    /// Fills the hosts in index order with the ``PlacementUnit``s of `requests`, each time taking
    /// the remaining unit with the best ``rule`` score that fits the current host.
    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        let d = cluster.dimensions.count
        let scale = cluster.normalization
        let units = cluster.placementUnits(for: requests)
        // Dense copies of the demands so the scan over remaining units stays in cache.
        var demand = [UInt64](), normalized = [Double]()
        demand.reserveCapacity(units.count * d)
        normalized.reserveCapacity(units.count * d)
        for unit in units {
            demand.append(contentsOf: unit.item.demand)
            normalized.append(contentsOf: unit.item.normalizedDemand)
        }
        let batchIndex = units.map(\.index)
        let constrained = units.map { $0.item.request.affinityGroup != nil || !$0.antiAffinityGroups.isEmpty }
        var remaining = units.indices.filter { units[$0].item.isPlaceable }
        var free = [UInt64](repeating: 0, count: d)
        var freeNormalized = [Double](repeating: 0, count: d)
        for host in cluster.hosts.indices {
            while !remaining.isEmpty {
                for j in 0..<d {
                    free[j] = cluster.available[host * d + j]
                    freeNormalized[j] = Double(free[j]) * scale[j]
                }
                var best = -1
                var bestScore = -Double.infinity
                for (slot, i) in remaining.enumerated() {
                    var fits = true
                    for j in 0..<d where demand[i * d + j] > free[j] { fits = false; break }
                    guard fits else { continue }
                    if constrained[i], !cluster.canPlace(units[i], on: host) { continue }
                    var score = 0.0
                    switch rule {
                    case .dotProduct:
                        for j in 0..<d { score += normalized[i * d + j] * freeNormalized[j] }
                    case .l2Norm:
                        for j in 0..<d {
                            let left = freeNormalized[j] - normalized[i * d + j]
                            score -= left * left
                        }
                    }
                    let tieWins = score == bestScore && best >= 0 && batchIndex[i] < batchIndex[remaining[best]]
                    if best < 0 || score > bestScore || tieWins {
                        best = slot
                        bestScore = score
                    }
                }
                guard best >= 0 else { break }
                try? cluster.commit(units[remaining[best]], on: host)
                remaining.swapAt(best, remaining.count - 1)
                remaining.removeLast()
            }
            if remaining.isEmpty { break }
        }
    }
}
