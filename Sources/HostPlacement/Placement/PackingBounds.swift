/// Quality yardsticks for vector bin packing.
public enum PackingBounds {
    /// The classic lower bound on the number of identical hosts of `capacity` needed for
    /// `demands`: the maximum over dimensions of `⌈Σ demand_d / capacity_d⌉` (at least 1
    /// when any demand is non-zero). `nil` when some demand needs a resource the host lacks
    /// or exceeds the host on its own (no number of hosts suffices).
    public static func lowerBound(demands: [ResourceVector], capacity: ResourceVector) -> Int? {
        var totals: [ResourceKind: UInt128] = [:]
        for demand in demands {
            for (kind, amount) in demand.amounts {
                guard amount <= capacity[kind] else { return nil }
                totals[kind, default: 0] += UInt128(amount)
            }
        }
        var bound: UInt128 = 0
        for (kind, total) in totals {
            let cap = UInt128(capacity[kind])
            bound = Swift.max(bound, (total + cap - 1) / cap)
        }
        return Int(clamping: bound)
    }

    /// The lower bound for the requests of a batch on hosts of `capacity`.
    public static func lowerBound(requests: [PlacementRequest], capacity: ResourceVector) -> Int? {
        lowerBound(demands: requests.map(\.demand), capacity: capacity)
    }
}
