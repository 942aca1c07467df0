/// A way of choosing hosts for a batch of requests.
///
/// A strategy decides; the ``Cluster`` enforces. Implementations call
/// ``Cluster/commit(_:on:)`` for each choice (normally only where
/// ``Cluster/canPlace(_:on:)`` holds) and leave requests they cannot place alone.
/// Strategies must be deterministic: the same cluster and batch give the same result.
public protocol PlacementStrategy: Sendable {
    /// A short name for reports.
    var name: String { get }
    /// Places as many of `requests` (in batch order) as the strategy can.
    func place(_ requests: [PreparedRequest], in cluster: inout Cluster)
}

/// An item-centric strategy: requests are taken one at a time in ``order(_:)`` and each
/// goes to the host with the lowest ``score(_:host:in:)`` among those it fits on (ties:
/// the lowest host index). Conforming types get ``PlacementStrategy/place(_:in:)`` for free.
public protocol HostScoringStrategy: PlacementStrategy {
    /// The order requests are placed in (default: batch order).
    func order(_ requests: [PreparedRequest]) -> [PreparedRequest]
    /// Lower is better; only called for hosts where the request fits.
    func score(_ request: PreparedRequest, host: Int, in cluster: Cluster) -> Double
}

extension HostScoringStrategy {
    public func order(_ requests: [PreparedRequest]) -> [PreparedRequest] { requests }

    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        for request in order(requests) {
            var best = -1
            var bestScore = Double.infinity
            for host in cluster.hosts.indices where cluster.canPlace(request, on: host) {
                let s = score(request, host: host, in: cluster)
                if best < 0 || s < bestScore { best = host; bestScore = s }
            }
            if best >= 0 { try? cluster.commit(request, on: best) }
        }
    }
}

/// How first-fit-decreasing ranks requests: by the sum, product or maximum of their
/// normalised demand over all dimensions (Panigrahy et al.'s FFDSum, FFDProd, FFDMax).
public enum DemandSizeKey: String, Hashable, Sendable, Codable, CaseIterable {
    case sum, product, max

    /// The size of a normalised demand vector under this key.
    public func size(of normalized: [Double]) -> Double {
        switch self {
        case .sum: return normalized.reduce(0, +)
        case .product: return normalized.reduce(1, *)
        case .max: return normalized.max() ?? 0
        }
    }

    /// `requests` sorted by decreasing size, ties in batch order.
    public func sortedDecreasing(_ requests: [PreparedRequest]) -> [PreparedRequest] {
        requests.map { (size(of: $0.normalizedDemand), $0) }
            .sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1.index < $1.1.index }
            .map(\.1)
    }
}
