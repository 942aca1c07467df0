/// The bin-centric greedy heuristics of Panigrahy, Talwar, Uyeda and Wieder
/// ("Heuristics for Vector Bin Packing", MSR 2011).
///
/// Hosts are filled one at a time in index order. For the current host, among the
/// remaining requests that fit, the one with the best score is placed; when none fits,
/// the next host is opened. Demand and free capacity are normalised per dimension by the
/// largest allocatable amount in the cluster. Ties go to the earliest request in the batch.
/// Each decision scans the remaining requests: O(requests × dimensions).
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

    public init(_ rule: Rule) { self.rule = rule }

    /// DotProduct greedy.
    public static var dotProduct: VectorGreedy { VectorGreedy(.dotProduct) }
    /// L2-norm greedy.
    public static var l2Norm: VectorGreedy { VectorGreedy(.l2Norm) }

    public var name: String { rule == .dotProduct ? "dot-product" : "l2-norm" }

    /// Higher is better.
    private func score(_ request: PreparedRequest, host: Int, in cluster: Cluster) -> Double {
        let d = cluster.dimensions.count
        var total = 0.0
        switch rule {
        case .dotProduct:
            for j in 0..<d {
                total += request.normalizedDemand[j] * Double(cluster.available[host * d + j]) * cluster.normalization[j]
            }
            return total
        case .l2Norm:
            for j in 0..<d {
                let left = Double(cluster.available[host * d + j] - request.demand[j]) * cluster.normalization[j]
                total += left * left
            }
            return -total
        }
    }

    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        var remaining = requests.filter(\.isPlaceable)
        for host in cluster.hosts.indices {
            while !remaining.isEmpty {
                var best = -1
                var bestScore = -Double.infinity
                for (i, request) in remaining.enumerated() where cluster.canPlace(request, on: host) {
                    let s = score(request, host: host, in: cluster)
                    if best < 0 || s > bestScore || (s == bestScore && request.index < remaining[best].index) {
                        best = i
                        bestScore = s
                    }
                }
                guard best >= 0 else { break }
                try? cluster.commit(remaining[best], on: host)
                remaining.swapAt(best, remaining.count - 1)
                remaining.removeLast()
            }
            if remaining.isEmpty { break }
        }
    }
}
