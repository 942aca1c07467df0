/// First-fit: each request, in batch order, goes to the lowest-index host it fits on; an
/// affinity group goes, at its first member's turn, to the lowest-index host that holds
/// all of it (a ``PlacementUnit``).
public struct FirstFit: PlacementStrategy {
    /// The first-fit strategy.
    public init() {}
    /// `first-fit`.
    public var name: String { "first-fit" }

    /// Places each ``PlacementUnit`` of `requests`, in batch order, on the lowest-index host
    /// that holds all of it.
    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        Self.placeInOrder(cluster.placementUnits(for: requests), in: &cluster)
    }

    /// Places `units` in the given order, each on the lowest-index host it fits on.
    static func placeInOrder(_ units: [PlacementUnit], in cluster: inout Cluster) {
        for unit in units {
            if let host = cluster.hosts.indices.first(where: { cluster.canPlace(unit, on: $0) }) {
                try? cluster.commit(unit, on: host)
            }
        }
    }
}

/// First-fit-decreasing: requests, and affinity groups as one item each (their total
/// demand), sorted by decreasing size (``DemandSizeKey``), then first-fit.
public struct FirstFitDecreasing: PlacementStrategy {
    /// How request sizes are compared.
    public var key: DemandSizeKey

    /// First-fit-decreasing ranking requests by `key` (default: the sum, FFDSum).
    public init(key: DemandSizeKey = .sum) { self.key = key }
    /// `ffd-sum`, `ffd-product` or `ffd-max`.
    public var name: String { "ffd-\(key.rawValue)" }

    /// Sorts the ``PlacementUnit``s of `requests` by decreasing size under ``key`` (ties in batch
    /// order), then places each on the lowest-index host that holds all of it.
    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        FirstFit.placeInOrder(key.sortedDecreasing(cluster.placementUnits(for: requests)), in: &cluster)
    }
}

/// Best-fit: each request, or affinity group as a whole, goes to the host it leaves with
/// the least normalised free capacity (sum over dimensions), ties to the lowest index;
/// optionally in decreasing order of size first (best-fit-decreasing).
public struct BestFit: HostScoringStrategy {
    /// When set, requests are placed in decreasing order of this size key.
    public var decreasing: DemandSizeKey?

    /// Best-fit in batch order, or best-fit-decreasing by the `decreasing` key.
    public init(decreasing: DemandSizeKey? = nil) { self.decreasing = decreasing }
    /// `best-fit`, or `bfd-sum`, `bfd-product`, `bfd-max` when decreasing.
    public var name: String { decreasing.map { "bfd-\($0.rawValue)" } ?? "best-fit" }

    /// The batch order, or decreasing size under ``decreasing`` (ties in batch order).
    public func order(_ requests: [PreparedRequest]) -> [PreparedRequest] {
        decreasing?.sortedDecreasing(requests) ?? requests
    }

    /// The normalised free capacity `host` would have left after taking `request`, summed over the
    /// cluster's dimensions (lower is a tighter fit).
    public func score(_ request: PreparedRequest, host: Int, in cluster: Cluster) -> Double {
        let d = cluster.dimensions.count
        var leftover = 0.0
        for j in 0..<d {
            leftover += Double(cluster.available[host * d + j] - request.demand[j]) * cluster.normalization[j]
        }
        return leftover
    }
}
