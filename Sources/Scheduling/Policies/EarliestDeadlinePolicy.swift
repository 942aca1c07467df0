/// Real-time budget/period scheduling with earliest deadline first, as Xen RTDS.
///
/// Every vCPU needs a ``RealTimeReservation`` `(budget, period)`. Its periods start when it is
/// added and repeat every `period`; in each period it may run for `budget`, due by the
/// period's end (its deadline). The runnable vCPU with budget left and the earliest deadline
/// runs; its slice ends when its budget is spent or its period ends. A vCPU whose budget is
/// spent waits for its next period even if a CPU is idle (no extra time, RTDS's default).
///
/// On one CPU, every budget is met whenever the total utilisation Σ budget/period ≤ 1 (EDF is
/// optimal for implicit deadlines). Above that some deadlines are missed: a **deadline miss**
/// is counted when a vCPU is still runnable at its deadline with budget left
/// (``deadlineMisses(of:)``); it then starts its next period with a fresh budget (the unserved
/// budget is dropped, not carried).
///
/// Runnable vCPUs with budget wait in a heap by deadline, the others in a heap by their next
/// release, so pick-next and account are O(log n) plus O(log n) per replenishment.
public struct EarliestDeadlinePolicy: SchedulingPolicy {
    struct Entry: Sendable {
        var budget: Nanoseconds
        var period: Nanoseconds
        var release: Nanoseconds
        var remaining: Nanoseconds
        var misses = 0
        var deadline: Nanoseconds { release &+ period }
    }

    private var table = VCPUTable<Entry>()
    private var ready = IndexedHeap<Nanoseconds>()  // runnable with budget, by deadline
    private var depleted = IndexedHeap<Nanoseconds>()  // runnable without budget, by next release

    /// An empty real-time scheduler.
    public init() {}

    /// `rt-edf`.
    public var name: String { "rt-edf" }

    /// Σ budget/period over all vCPUs added.
    public var totalUtilization: Double {
        var total = 0.0
        for slot in table.ids.indices where table.lookup(table.ids[slot]) == slot {
            total += Double(table.payloads[slot].budget) / Double(table.payloads[slot].period)
        }
        return total
    }

    /// Budget left in the vCPU's current period.
    public func remainingBudget(of vcpu: VCPUID) -> Nanoseconds? {
        table.lookup(vcpu).map { table.payloads[$0].remaining }
    }

    /// Registers a blocked vCPU; its first period starts at `now` with a full budget.
    ///
    /// - Throws: ``SchedulerError/invalidParameters(_:)`` when the parameters carry no
    ///   ``SchedulingParameters/reservation``; ``SchedulerError/duplicateVCPU(_:)``.
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        guard let reservation = parameters.reservation else {
            throw .invalidParameters("vCPU \(vcpu) has no real-time reservation")
        }
        let entry = Entry(
            budget: reservation.budget, period: reservation.period, release: now, remaining: reservation.budget)
        _ = try table.insert(vcpu, parameters: parameters, payload: entry)
    }

    /// Forgets a vCPU that is not running.
    ///
    /// - Throws: ``SchedulerError/unknownVCPU(_:)``; ``SchedulerError/invalidTransition(_:operation:state:)``
    ///   when it is running.
    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let slot = try table.remove(vcpu)
        ready.remove(slot)
        depleted.remove(slot)
    }

    /// Queues a blocked vCPU, starting its current period (with a fresh budget) if the previous one
    /// has ended.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is blocked.
    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        advance(to: now)
        let slot = try table.transition(vcpu, "wake", from: .blocked, to: .runnable)
        rollForward(slot, to: now)
        enqueue(slot)
    }

    /// Takes a runnable vCPU off the run queue.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is runnable.
    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        advance(to: now)
        let slot = try table.transition(vcpu, "block", from: .runnable, to: .blocked)
        ready.remove(slot)
        depleted.remove(slot)
    }

    /// After replenishing budgets and counting misses due by `now`: the queued vCPU with budget
    /// left and the earliest deadline, for its remaining budget or until its deadline, whichever is
    /// shorter; `nil` when none has budget.
    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? {
        advance(to: now)
        guard let next = ready.popMin() else { return nil }
        let entry = table.payloads[next.handle]
        return table.startRunning(next.handle, slice: min(entry.remaining, entry.deadline - now))
    }

    /// Charges `ran` to the vCPU's budget; counts a deadline miss when a preempted vCPU reaches its
    /// deadline with budget left, and starts its next period once the current one is over.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is running.
    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        advance(to: now)
        let slot = try table.stopRunning(vcpu, outcome: outcome)
        var entry = table.payloads[slot]
        entry.remaining -= min(ran, entry.remaining)
        if now >= entry.deadline && outcome == .preempted && entry.remaining > 0 { entry.misses += 1 }
        table.payloads[slot] = entry
        rollForward(slot, to: now)
        if outcome == .preempted { enqueue(slot) }
    }

    /// Whether a queued vCPU with budget has an earlier deadline than the running `vcpu`.
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        advance(to: now)
        guard let slot = table.lookup(vcpu), let best = ready.min else { return false }
        return best.key < table.payloads[slot].deadline
    }

    /// The next replenishment of a vCPU without budget, or the next deadline of a waiting one.
    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? {
        switch (depleted.min?.key, ready.min?.key) {
        case (let a?, let b?): return max(now, min(a, b))
        case (let a?, nil): return max(now, a)
        case (nil, let b?): return max(now, b)
        case (nil, nil): return nil
        }
    }

    /// Entitled to exactly its reservation.
    public func entitlement(of vcpu: VCPUID) -> Entitlement? {
        table.lookup(vcpu).map { slot in
            let entry = table.payloads[slot]
            let utilization = Double(entry.budget) / Double(entry.period)
            return Entitlement(weight: utilization, maximumFraction: utilization)
        }
    }

    /// The deadlines the vCPU missed so far (0 for an unknown vCPU).
    public func deadlineMisses(of vcpu: VCPUID) -> Int {
        table.lookup(vcpu).map { table.payloads[$0].misses } ?? 0
    }

    /// The vCPU's state, or `nil` when it is unknown.
    public func state(of vcpu: VCPUID) -> VCPURunState? { table.state(of: vcpu) }

    // MARK: Internals

    /// Starts the period containing `now` (with a fresh budget) if the current one is over.
    private mutating func rollForward(_ slot: Int, to now: Nanoseconds) {
        var entry = table.payloads[slot]
        guard now >= entry.deadline else { return }
        entry.release &+= (now - entry.release) / entry.period * entry.period
        entry.remaining = entry.budget
        table.payloads[slot] = entry
    }

    private mutating func enqueue(_ slot: Int) {
        let entry = table.payloads[slot]
        if entry.remaining > 0 {
            ready.set(slot, key: entry.deadline)
        } else {
            depleted.set(slot, key: entry.deadline)
        }
    }

    /// Replenishes vCPUs whose new period has begun and counts the misses of waiting vCPUs
    /// whose deadline passed.
    private mutating func advance(to now: Nanoseconds) {
        while let next = depleted.min, next.key <= now {
            depleted.remove(next.handle)
            rollForward(next.handle, to: now)
            enqueue(next.handle)
        }
        while let next = ready.min, next.key <= now {
            ready.remove(next.handle)
            table.payloads[next.handle].misses += 1
            rollForward(next.handle, to: now)
            enqueue(next.handle)
        }
    }
}
