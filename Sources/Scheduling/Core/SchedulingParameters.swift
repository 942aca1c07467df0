/// What an embedder tells the scheduler about one vCPU. Each policy reads the fields it uses
/// and ignores the others, so one workload description can be run under every policy.
public struct SchedulingParameters: Sendable, Equatable {
    /// Relative share for ``WeightedFairPolicy`` (and the entitlement of the other
    /// proportional policies). Defaults to nice 0 (1024).
    public var weight: SchedulingWeight
    /// Base priority for ``PriorityAgingPolicy``: larger runs first. Range
    /// ``PriorityAgingPolicy/priorityRange``.
    public var priority: Int
    /// Bandwidth limit applied by ``BandwidthCapped``; `nil` means uncapped.
    public var cap: BandwidthCap?
    /// Real-time reservation for ``EarliestDeadlinePolicy``; required by that policy.
    public var reservation: RealTimeReservation?

    /// Parameters; the defaults are nice 0, priority 0, no cap, no reservation.
    public init(
        weight: SchedulingWeight = .default, priority: Int = 0, cap: BandwidthCap? = nil,
        reservation: RealTimeReservation? = nil
    ) {
        self.weight = weight
        self.priority = priority
        self.cap = cap
        self.reservation = reservation
    }
}

/// A proportional-share weight: explicit, or derived from a Linux nice value.
public struct SchedulingWeight: Sendable, Hashable, Comparable {
    /// The weight, at least 1. Nice 0 is 1024.
    public let value: UInt32

    /// An explicit weight; 0 is raised to 1 (a zero weight would never be entitled to run).
    public init(_ value: UInt32) { self.value = max(1, value) }

    /// The weight of nice 0 (1024).
    public static let `default` = SchedulingWeight(1024)

    /// The weight Linux gives to a nice value (`sched_prio_to_weight`): nice 0 = 1024, each
    /// step about ×1.25. Values outside -20...19 are clamped.
    public static func nice(_ nice: Int) -> SchedulingWeight {
        let clamped = min(19, max(-20, nice))
        return SchedulingWeight(niceToWeight[clamped + 20])
    }

    /// Orders weights by value.
    public static func < (a: SchedulingWeight, b: SchedulingWeight) -> Bool { a.value < b.value }

    /// Linux's `sched_prio_to_weight` table, nice -20 first.
    static let niceToWeight: [UInt32] = [
        88761, 71755, 56483, 46273, 36291,
        29154, 23254, 18705, 14949, 11916,
        9548, 7620, 6100, 4904, 3906,
        3121, 2501, 1991, 1586, 1277,
        1024, 820, 655, 526, 423,
        335, 272, 215, 172, 137,
        110, 87, 70, 56, 45,
        36, 29, 23, 18, 15,
    ]
}

/// A bandwidth limit: at most `quota` of CPU time in every `period` (cgroup `cpu.max`).
/// A quota larger than the period allows more than one CPU, which only makes sense for a VM
/// cap (a single vCPU runs on one CPU at a time).
public struct BandwidthCap: Sendable, Equatable {
    /// CPU time allowed per period.
    public let quota: Nanoseconds
    /// Length of a period.
    public let period: Nanoseconds

    /// Throws when the quota or the period is zero.
    public init(quota: Nanoseconds, period: Nanoseconds) throws(SchedulerError) {
        guard quota > 0, period > 0 else {
            throw .invalidParameters("cap quota \(quota) ns per period \(period) ns: both must be positive")
        }
        self.quota = quota
        self.period = period
    }

    /// The capped number of CPUs (quota / period).
    public var fraction: Double { Double(quota) / Double(period) }
}

/// A real-time reservation: `budget` of CPU time in every `period`, due by the period's end
/// (Xen RTDS; default there 4 ms every 10 ms).
public struct RealTimeReservation: Sendable, Equatable {
    /// CPU time guaranteed per period.
    public let budget: Nanoseconds
    /// Length of a period; the budget is due by its end.
    public let period: Nanoseconds

    /// Throws when the budget or period is zero or the budget exceeds the period.
    public init(budget: Nanoseconds, period: Nanoseconds) throws(SchedulerError) {
        guard budget > 0, period > 0, budget <= period else {
            throw .invalidParameters(
                "reservation budget \(budget) ns per period \(period) ns: need 0 < budget <= period")
        }
        self.budget = budget
        self.period = period
    }

    /// The reserved fraction of one CPU.
    public var utilization: Double { Double(budget) / Double(period) }
}
