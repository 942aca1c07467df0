/// Strict priority with aging: the runnable vCPU with the highest *effective* priority runs,
/// where a vCPU's effective priority is its base priority plus one level for every
/// `agingInterval` it has waited on the run queue. Equal effective priorities run in FIFO
/// order. Nothing starves: a vCPU waiting since `t` overtakes a vCPU of priority `Δ` levels
/// higher that re-queues after `t + Δ·agingInterval`, so its wait is bounded by
/// `Δ·agingInterval` plus one slice for each vCPU ahead of it.
///
/// Implementation: ordering by `base + (now − enqueued)/agingInterval` is the same at every
/// `now` as ordering by `enqueued − base·agingInterval` (the rank), which does not change
/// while a vCPU waits — so the run queue is one heap keyed by rank, and pick-next and account
/// are O(log n).
public struct PriorityAgingPolicy: SchedulingPolicy {
    /// Accepted base priorities.
    public static let priorityRange = -1000...1000
    /// Accepted aging intervals (1 ns to about 18 minutes), so ranks never overflow.
    public static let agingIntervalRange: ClosedRange<Nanoseconds> = 1...(1 << 40)

    /// The longest a vCPU runs before the next one is considered.
    public let timeSlice: Nanoseconds
    /// Waiting this long raises a vCPU's effective priority by one level.
    public let agingInterval: Nanoseconds
    /// Whether a waiting vCPU whose effective priority is higher than a running one's
    /// preempts it at wake-up (``shouldPreempt(_:ranFor:at:)``).
    public let preemptsOnWake: Bool

    struct Key: Comparable, Sendable {
        var rank: Int64
        var sequence: UInt64
        static func < (a: Key, b: Key) -> Bool { (a.rank, a.sequence) < (b.rank, b.sequence) }
    }

    struct Entry: Sendable { var priority: Int64 = 0 }

    private var table = VCPUTable<Entry>()
    private var queue = IndexedHeap<Key>()
    private var sequence: UInt64 = 0
    private let label: String

    /// A priority policy. Throws when the slice is zero or the aging interval is outside
    /// ``agingIntervalRange``.
    public init(timeSlice: Nanoseconds, agingInterval: Nanoseconds, preemptsOnWake: Bool = true)
        throws(SchedulerError)
    {
        try self.init(
            timeSlice: timeSlice, agingInterval: agingInterval, preemptsOnWake: preemptsOnWake,
            name: "priority+aging \(formatDuration(timeSlice)) / \(formatDuration(agingInterval))")
    }

    init(timeSlice: Nanoseconds, agingInterval: Nanoseconds, preemptsOnWake: Bool, name: String)
        throws(SchedulerError)
    {
        guard timeSlice > 0 else { throw .invalidParameters("time slice must be positive") }
        guard Self.agingIntervalRange.contains(agingInterval) else {
            throw .invalidParameters("aging interval \(agingInterval) ns outside \(Self.agingIntervalRange)")
        }
        self.timeSlice = timeSlice
        self.agingInterval = agingInterval
        self.preemptsOnWake = preemptsOnWake
        self.label = name
    }

    /// `priority+aging <slice> / <interval>` (or the round-robin name when used by
    /// ``RoundRobinPolicy``).
    public var name: String { label }

    /// Number of vCPUs waiting on the run queue.
    public var runnableCount: Int { queue.count }

    /// Registers a blocked vCPU with its ``SchedulingParameters/priority`` as base priority.
    ///
    /// - Throws: ``SchedulerError/invalidParameters(_:)`` when the priority is outside
    ///   ``priorityRange``; ``SchedulerError/duplicateVCPU(_:)``.
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        guard Self.priorityRange.contains(parameters.priority) else {
            throw .invalidParameters("priority \(parameters.priority) outside \(Self.priorityRange)")
        }
        _ = try table.insert(vcpu, parameters: parameters, payload: Entry(priority: Int64(parameters.priority)))
    }

    /// Forgets a vCPU that is not running, taking it off the run queue.
    ///
    /// - Throws: ``SchedulerError/unknownVCPU(_:)``; ``SchedulerError/invalidTransition(_:operation:state:)``
    ///   when it is running.
    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        queue.remove(try table.remove(vcpu))
    }

    /// Queues a blocked vCPU; its aging starts now.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is blocked.
    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        enqueue(try table.transition(vcpu, "wake", from: .blocked, to: .runnable), at: now)
    }

    /// Takes a runnable vCPU off the run queue.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is runnable.
    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        queue.remove(try table.transition(vcpu, "block", from: .runnable, to: .blocked))
    }

    /// The queued vCPU with the highest effective priority (FIFO among equals), for ``timeSlice``;
    /// `nil` when none is queued.
    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? {
        guard let next = queue.popMin() else { return nil }
        return table.startRunning(next.handle, slice: timeSlice)
    }

    /// Ends a running vCPU's slice; a preempted vCPU is queued again with its aging restarted.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is running.
    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        let slot = try table.stopRunning(vcpu, outcome: outcome)
        if outcome == .preempted { enqueue(slot, at: now) }
    }

    /// When ``preemptsOnWake`` is set: whether the best queued vCPU's effective priority is at least
    /// one level above the running `vcpu`'s (whose aging restarted when it was picked).
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        guard preemptsOnWake, let best = queue.min, let slot = table.lookup(vcpu) else { return false }
        // Preempt when the best waiting vCPU's effective priority is at least one level above
        // the running one's (whose own aging restarted when it was picked).
        return best.key.rank &+ Int64(agingInterval) <= rank(of: slot, at: now)
    }

    /// Always `nil`: aging needs no timer (ranks never change while vCPUs wait).
    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    /// Strict priority promises no proportion: every vCPU is entitled to an equal share, so
    /// the fairness index shows how far priorities moved the split away from equal.
    public func entitlement(of vcpu: VCPUID) -> Entitlement? {
        table.lookup(vcpu).map { _ in Entitlement(weight: 1) }
    }

    /// The vCPU's state, or `nil` when it is unknown.
    public func state(of vcpu: VCPUID) -> VCPURunState? { table.state(of: vcpu) }

    private func rank(of slot: Int, at now: Nanoseconds) -> Int64 {
        // |priority × agingInterval| ≤ 1000 × 2^40 < 2^50: no overflow.
        Int64(clamping: now) - table.payloads[slot].priority * Int64(agingInterval)
    }

    private mutating func enqueue(_ slot: Int, at now: Nanoseconds) {
        queue.set(slot, key: Key(rank: rank(of: slot, at: now), sequence: sequence))
        sequence &+= 1
    }
}
