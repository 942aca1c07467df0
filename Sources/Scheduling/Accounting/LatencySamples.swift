/// Delays from runnable to running, with nearest-rank percentiles.
///
/// Keeps every sample (the simulator's runs are bounded; a long-running dispatcher should
/// ``reset()`` it per reporting interval).
public struct LatencySamples: Sendable, Equatable {
    /// The samples, in the order they were recorded.
    public private(set) var samples: [Nanoseconds] = []

    /// No samples.
    public init() {}

    /// Number of samples.
    public var count: Int { samples.count }

    /// Records one delay.
    public mutating func append(_ sample: Nanoseconds) { samples.append(sample) }

    /// Forgets every sample.
    public mutating func reset() { samples.removeAll(keepingCapacity: true) }

    /// The `p`-th percentile (0...100) by nearest rank, or `nil` without samples.
    public func percentile(_ p: Double) -> Nanoseconds? {
        percentiles([p]).first ?? nil
    }

    /// Several percentiles with one sort.
    public func percentiles(_ ps: [Double]) -> [Nanoseconds?] {
        guard !samples.isEmpty else { return ps.map { _ in nil } }
        let sorted = samples.sorted()
        return ps.map { p in
            let clamped = min(100, max(0, p))
            let rank = Int((clamped / 100 * Double(sorted.count)).rounded(.up))
            return sorted[max(0, min(sorted.count - 1, rank - 1))]
        }
    }

    /// The largest sample.
    public var maximum: Nanoseconds? { samples.max() }
}
