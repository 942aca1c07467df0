/// First-fit: each request, in batch order, goes to the lowest-index host it fits on.
public struct FirstFit: PlacementStrategy {
    public init() {}
    public var name: String { "first-fit" }

    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        Self.placeInOrder(requests, in: &cluster)
    }

    /// Places `requests` in the given order, each on the lowest-index host it fits on.
    static func placeInOrder(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        for request in requests {
            if let host = cluster.hosts.indices.first(where: { cluster.canPlace(request, on: $0) }) {
                try? cluster.commit(request, on: host)
            }
        }
    }
}

/// First-fit-decreasing: requests sorted by decreasing size (``DemandSizeKey``), then
/// first-fit.
public struct FirstFitDecreasing: PlacementStrategy {
    /// How request sizes are compared.
    public var key: DemandSizeKey

    public init(key: DemandSizeKey = .sum) { self.key = key }
    public var name: String { "ffd-\(key.rawValue)" }

    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        FirstFit.placeInOrder(key.sortedDecreasing(requests), in: &cluster)
    }
}

/// Best-fit: each request goes to the host it leaves with the least normalised free
/// capacity (sum over dimensions), ties to the lowest index; optionally in decreasing
/// order of size first (best-fit-decreasing).
public struct BestFit: HostScoringStrategy {
    /// When set, requests are placed in decreasing order of this size key.
    public var decreasing: DemandSizeKey?

    public init(decreasing: DemandSizeKey? = nil) { self.decreasing = decreasing }
    public var name: String { decreasing.map { "bfd-\($0.rawValue)" } ?? "best-fit" }

    public func order(_ requests: [PreparedRequest]) -> [PreparedRequest] {
        decreasing?.sortedDecreasing(requests) ?? requests
    }

    public func score(_ request: PreparedRequest, host: Int, in cluster: Cluster) -> Double {
        let d = cluster.dimensions.count
        var leftover = 0.0
        for j in 0..<d {
            leftover += Double(cluster.available[host * d + j] - request.demand[j]) * cluster.normalization[j]
        }
        return leftover
    }
}
