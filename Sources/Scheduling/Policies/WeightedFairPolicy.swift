/// Weighted fair share with virtual deadlines, in the style of Linux EEVDF.
///
/// Each vCPU has a virtual runtime `v` that advances by `ran × 1024 / weight` (so a nice-0
/// vCPU's virtual time runs at real time) and a virtual deadline `v + slice × 1024 / weight`.
/// `V` is the weight-averaged virtual runtime of the runnable vCPUs (queued and running). A
/// vCPU is *eligible* when `v ≤ V` (it has received no more than its share); the eligible vCPU
/// with the earliest virtual deadline runs, for one `slice`. Always-runnable vCPUs therefore
/// receive CPU time in proportion to their weights.
///
/// A vCPU that blocks keeps its lag `V − v` (bounded to two slices' worth of virtual time) and
/// is placed at `V − lag` when it wakes: sleeping neither earns unbounded credit nor costs the
/// share it was owed. A woken vCPU preempts the running one when it is eligible and its
/// deadline is earlier.
///
/// Data structures: eligible vCPUs in a heap by virtual deadline, the others in a heap by
/// virtual runtime; `V` from running sums (exact, 128-bit). Pick-next moves the vCPUs that
/// became eligible (each move O(log n)) and pops the earliest deadline; account is one heap
/// update. Virtual time is 64-bit: it wraps after 2^54 ns (208 days) of CPU time of a
/// weight-1 vCPU.
public struct WeightedFairPolicy: SchedulingPolicy {
    /// The request size: how long a vCPU runs when picked.
    public let slice: Nanoseconds

    static let unitWeight: UInt64 = 1024
    /// CPU time charged in one account call is capped here so that `ran × 1024` cannot overflow.
    static let maximumCharge: Nanoseconds = 1 << 50

    struct Entry: Sendable {
        var weight: UInt64
        var vruntime: UInt64 = 0
        /// Remainder of `ran × 1024 / weight`, carried so that shares are exact.
        var remainder: UInt64 = 0
        var deadline: UInt64 = 0
        var lag: Int64 = 0
    }

    private var table = VCPUTable<Entry>()
    private var eligible = IndexedHeap<UInt64>()  // queued, by virtual deadline
    private var pending = IndexedHeap<UInt64>()  // queued, not known eligible, by virtual runtime
    private var weightedSum: Int128 = 0  // Σ weight × vruntime over queued and running vCPUs
    private var weightSum: Int128 = 0
    private var lastAverage: UInt64 = 0

    /// A fair-share policy giving each picked vCPU `slice` (for example 3 ms, as EEVDF's
    /// default base slice).
    public init(slice: Nanoseconds) throws(SchedulerError) {
        guard slice > 0, slice <= Self.maximumCharge else {
            throw .invalidParameters("slice \(slice) ns outside 1...\(Self.maximumCharge)")
        }
        self.slice = slice
    }

    /// `weighted-fair <slice>`, e.g. `weighted-fair 3 ms`.
    public var name: String { "weighted-fair \(formatDuration(slice))" }

    /// Number of vCPUs waiting on the run queue.
    public var runnableCount: Int { eligible.count + pending.count }

    /// The current weighted-average virtual runtime `V`.
    public var averageVirtualRuntime: UInt64 {
        weightSum > 0 ? UInt64(clamping: weightedSum / weightSum) : lastAverage
    }

    /// The virtual runtime of a vCPU (for inspection and tests).
    public func virtualRuntime(of vcpu: VCPUID) -> UInt64? {
        table.lookup(vcpu).map { table.payloads[$0].vruntime }
    }

    /// Registers a blocked vCPU with its ``SchedulingParameters/weight``, starting at the current
    /// average virtual runtime.
    ///
    /// - Throws: ``SchedulerError/duplicateVCPU(_:)``.
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        let entry = Entry(weight: UInt64(parameters.weight.value), vruntime: averageVirtualRuntime)
        _ = try table.insert(vcpu, parameters: parameters, payload: entry)
    }

    /// Forgets a vCPU that is not running (a runnable one leaves the run queue first).
    ///
    /// - Throws: ``SchedulerError/unknownVCPU(_:)``; ``SchedulerError/invalidTransition(_:operation:state:)``
    ///   when it is running.
    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let wasRunnable = table.state(of: vcpu) == .runnable
        let slot = try table.remove(vcpu)
        if wasRunnable { dequeue(slot) }
    }

    /// Queues a blocked vCPU at virtual runtime `V − lag` (its lag as it blocked, bounded).
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is blocked.
    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let slot = try table.transition(vcpu, "wake", from: .blocked, to: .runnable)
        let average = Int64(clamping: averageVirtualRuntime)
        let placed = average - table.payloads[slot].lag
        table.payloads[slot].vruntime = UInt64(max(0, placed))
        table.payloads[slot].lag = 0
        table.payloads[slot].deadline = deadline(of: table.payloads[slot])
        addToSums(slot)
        enqueue(slot)
    }

    /// Takes a runnable vCPU off the run queue, remembering its lag.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is runnable.
    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        dequeue(try table.transition(vcpu, "block", from: .runnable, to: .blocked))
    }

    /// The eligible vCPU (`v ≤ V`) with the earliest virtual deadline, for ``slice``; when running
    /// vCPUs hold `V` down so that none is eligible, the queued vCPU with the least virtual runtime.
    /// `nil` when none is queued.
    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? {
        let average = averageVirtualRuntime
        lastAverage = average
        while let next = pending.min, next.key <= average {
            pending.remove(next.handle)
            eligible.set(next.handle, key: table.payloads[next.handle].deadline)
        }
        // Entries can turn ineligible when V falls (a vCPU with small v joined); push them back.
        while let top = eligible.min, table.payloads[top.handle].vruntime > average {
            eligible.remove(top.handle)
            pending.set(top.handle, key: table.payloads[top.handle].vruntime)
        }
        // Nothing eligible only when running vCPUs hold V down: run the least-served one.
        guard let chosen = eligible.popMin() ?? pending.popMin() else { return nil }
        return table.startRunning(chosen.handle, slice: slice)
    }

    /// Charges `ran` (capped at 2^50 ns) to the vCPU's virtual runtime, weighted, and computes its
    /// next deadline; a preempted vCPU is queued again, a blocked one keeps its lag.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is running.
    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        let slot = try table.stopRunning(vcpu, outcome: outcome)
        removeFromSums(slot)
        var entry = table.payloads[slot]
        let scaled = min(ran, Self.maximumCharge) * Self.unitWeight + entry.remainder
        entry.vruntime &+= scaled / entry.weight
        entry.remainder = scaled % entry.weight
        entry.deadline = deadline(of: entry)
        table.payloads[slot] = entry
        if outcome == .preempted {
            addToSums(slot)
            enqueue(slot)
        } else {
            recordLag(slot)
        }
    }

    /// Whether an eligible queued vCPU has an earlier virtual deadline than the running `vcpu`.
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        guard let slot = table.lookup(vcpu), let best = eligible.min else { return false }
        let candidate = table.payloads[best.handle]
        return candidate.vruntime <= averageVirtualRuntime && candidate.deadline < table.payloads[slot].deadline
    }

    /// Always `nil`: decisions change only on events.
    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    /// Entitled in proportion to the weight.
    public func entitlement(of vcpu: VCPUID) -> Entitlement? {
        table.lookup(vcpu).map { Entitlement(weight: Double(table.payloads[$0].weight)) }
    }

    /// The vCPU's state, or `nil` when it is unknown.
    public func state(of vcpu: VCPUID) -> VCPURunState? { table.state(of: vcpu) }

    // MARK: Internals

    private func deadline(of entry: Entry) -> UInt64 {
        entry.vruntime &+ slice.multipliedReportingOverflow(by: Self.unitWeight).partialValue / entry.weight
    }

    private mutating func addToSums(_ slot: Int) {
        let entry = table.payloads[slot]
        weightedSum += Int128(entry.weight) * Int128(entry.vruntime)
        weightSum += Int128(entry.weight)
    }

    private mutating func removeFromSums(_ slot: Int) {
        let entry = table.payloads[slot]
        weightedSum -= Int128(entry.weight) * Int128(entry.vruntime)
        weightSum -= Int128(entry.weight)
    }

    private mutating func enqueue(_ slot: Int) {
        let entry = table.payloads[slot]
        if entry.vruntime <= averageVirtualRuntime {
            eligible.set(slot, key: entry.deadline)
        } else {
            pending.set(slot, key: entry.vruntime)
        }
    }

    /// Takes a queued vCPU off the run queue and the sums, remembering its lag.
    private mutating func dequeue(_ slot: Int) {
        eligible.remove(slot)
        pending.remove(slot)
        removeFromSums(slot)
        recordLag(slot)
    }

    private mutating func recordLag(_ slot: Int) {
        let entry = table.payloads[slot]
        let request = slice.multipliedReportingOverflow(by: Self.unitWeight).partialValue / entry.weight
        let bound = Int64(clamping: 2 * request)
        let lag = Int64(clamping: averageVirtualRuntime) - Int64(clamping: entry.vruntime)
        table.payloads[slot].lag = min(bound, max(-bound, lag))
    }
}
