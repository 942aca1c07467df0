/// Entitled shares and Jain's fairness index.
public enum FairShare {
    /// Divides `capacity` CPUs among claimants by weighted max-min fairness (water-filling):
    /// each gets `capacity × weight / Σweight` unless that exceeds its `limit`, in which case it
    /// gets the limit and the rest is divided among the others. Returns one share per claimant
    /// in CPUs. Claimants with zero weight get zero.
    public static func entitledShares(
        capacity: Double, claims: [(weight: Double, limit: Double)]
    ) -> [Double] {
        var shares = [Double](repeating: 0, count: claims.count)
        // Most constrained first: ascending limit per unit of weight.
        let order = claims.indices.filter { claims[$0].weight > 0 }.sorted {
            let a = claims[$0].limit / claims[$0].weight, b = claims[$1].limit / claims[$1].weight
            return a < b || (a == b && $0 < $1)
        }
        var remainingCapacity = max(0, capacity)
        var remainingWeight = order.reduce(0.0) { $0 + claims[$1].weight }
        for i in order {
            let fair = remainingWeight > 0 ? remainingCapacity * claims[i].weight / remainingWeight : 0
            shares[i] = max(0, min(fair, claims[i].limit))
            remainingCapacity -= shares[i]
            remainingWeight -= claims[i].weight
        }
        return shares
    }

    /// Jain's index `(Σx)² / (n·Σx²)` of `actual[i] / entitled[i]`, over the pairs with a
    /// positive entitlement: 1 when everyone got exactly their entitlement in proportion,
    /// 1/n at worst. `nil` when no pair has a positive entitlement.
    public static func jainIndex(actual: [Double], entitled: [Double]) -> Double? {
        let ratios = zip(actual, entitled).compactMap { $1 > 0 ? $0 / $1 : nil }
        guard !ratios.isEmpty else { return nil }
        let sum = ratios.reduce(0, +)
        let squares = ratios.reduce(0) { $0 + $1 * $1 }
        guard squares > 0 else { return 0 }
        return sum * sum / (Double(ratios.count) * squares)
    }
}
