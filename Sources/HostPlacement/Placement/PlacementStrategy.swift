/// A way of choosing hosts for a batch of requests.
///
/// A strategy decides; the ``Cluster`` enforces. Implementations call
/// ``Cluster/commit(_:on:)-(PreparedRequest,_)`` for each choice (normally only where
/// ``Cluster/canPlace(_:on:)-(PreparedRequest,_)`` holds) and leave requests they cannot
/// place alone. Strategies must be deterministic: the same cluster and batch give the same
/// result.
///
/// The cluster keeps every member of an affinity group on one host, but only the strategy
/// can make a group all-or-nothing. The built-in strategies do, by placing
/// ``Cluster/placementUnits(for:)`` with ``Cluster/canPlace(_:on:)-(PlacementUnit,_)`` and
/// ``Cluster/commit(_:on:)-(PlacementUnit,_)``; a custom strategy can do the same.
public protocol PlacementStrategy: Sendable {
    /// A short name for reports.
    var name: String { get }
    /// Places as many of `requests` (in batch order) as the strategy can.
    func place(_ requests: [PreparedRequest], in cluster: inout Cluster)
}

/// An item-centric strategy: the batch's ``PlacementUnit``s (single requests and whole
/// affinity groups) are taken one at a time in ``order(_:)`` and each goes to the host with
/// the lowest ``score(_:host:in:)`` among those it fits on as a whole (ties: the lowest
/// host index). Conforming types get ``PlacementStrategy/place(_:in:)`` for free.
public protocol HostScoringStrategy: PlacementStrategy {
    /// The order units are placed in, given one ``PlacementUnit/item`` per unit in batch
    /// order (default: that order). Items left out are not placed.
    func order(_ requests: [PreparedRequest]) -> [PreparedRequest]
    /// Lower is better; only called for hosts where the item (a request, or a group's
    /// combined ``PlacementUnit/item``) fits.
    func score(_ request: PreparedRequest, host: Int, in cluster: Cluster) -> Double
}

extension HostScoringStrategy {
    /// The batch order, unchanged.
    public func order(_ requests: [PreparedRequest]) -> [PreparedRequest] { requests }

    /// Places the ``Cluster/placementUnits(for:)`` of `requests` one at a time in ``order(_:)``,
    /// each whole on the host with the lowest ``score(_:host:in:)`` among those it fits on
    /// (ties: the lowest host index); a unit that fits nowhere stays unplaced.
    public func place(_ requests: [PreparedRequest], in cluster: inout Cluster) {
        let units = cluster.placementUnits(for: requests)
        for unit in units.reordered(by: order) {
            var best = -1
            var bestScore = Double.infinity
            for host in cluster.hosts.indices where cluster.canPlace(unit, on: host) {
                let s = score(unit.item, host: host, in: cluster)
                if best < 0 || s < bestScore { best = host; bestScore = s }
            }
            if best >= 0 { try? cluster.commit(unit, on: best) }
        }
    }
}

extension [PlacementUnit] {
    /// The units in the order `order` puts their items in (matched by index).
    func reordered(by order: ([PreparedRequest]) -> [PreparedRequest]) -> [PlacementUnit] {
        let byIndex = Dictionary(map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
        return order(map(\.item)).compactMap { byIndex[$0.index] }
    }
}

/// How first-fit-decreasing ranks requests: by the sum, product or maximum of their
/// normalised demand over all dimensions (Panigrahy et al.'s FFDSum, FFDProd, FFDMax).
public enum DemandSizeKey: String, Hashable, Sendable, Codable, CaseIterable {
    /// The sum of the normalised demands (FFDSum).
    case sum
    /// The product of the normalised demands (FFDProd).
    case product
    /// The largest normalised demand (FFDMax).
    case max

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

    /// `units` sorted by decreasing size of their combined ``PlacementUnit/item``, ties in
    /// batch order (of their first member).
    public func sortedDecreasing(_ units: [PlacementUnit]) -> [PlacementUnit] {
        units.reordered(by: sortedDecreasing)
    }
}
