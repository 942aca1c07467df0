/// Round robin with a fixed time slice: runnable vCPUs run in FIFO order, each for at most
/// one slice, then go to the back of the queue. Priorities and weights are ignored; a woken
/// vCPU never preempts a running one.
///
/// It is ``PriorityAgingPolicy`` with every priority equal (the FIFO order of equal ranks),
/// so both share one run-queue implementation.
public struct RoundRobinPolicy: SchedulingPolicy {
    private var fifo: PriorityAgingPolicy

    /// Round robin with `timeSlice` (for example 30 ms as Xen credit, or a few ms).
    public init(timeSlice: Nanoseconds) throws(SchedulerError) {
        fifo = try PriorityAgingPolicy(
            timeSlice: timeSlice, agingInterval: 1, preemptsOnWake: false,
            name: "round-robin \(formatDuration(timeSlice))")
    }

    /// The slice every vCPU gets.
    public var timeSlice: Nanoseconds { fifo.timeSlice }
    /// `round-robin <slice>`, e.g. `round-robin 10 ms`.
    public var name: String { fifo.name }
    /// Number of vCPUs waiting on the run queue.
    public var runnableCount: Int { fifo.runnableCount }

    /// Registers a blocked vCPU; its priority is ignored (every vCPU gets priority 0).
    ///
    /// - Throws: ``SchedulerError/duplicateVCPU(_:)`` when it is already registered.
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        var equal = parameters
        equal.priority = 0
        try fifo.add(vcpu, parameters: equal, at: now)
    }

    /// Forgets a vCPU that is not running.
    ///
    /// - Throws: ``SchedulerError/unknownVCPU(_:)``; ``SchedulerError/invalidTransition(_:operation:state:)``
    ///   when it is running.
    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try fifo.remove(vcpu, at: now)
    }

    /// Puts a blocked vCPU at the back of the run queue.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is blocked.
    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try fifo.wake(vcpu, at: now)
    }

    /// Takes a runnable vCPU off the run queue.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is runnable.
    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try fifo.block(vcpu, at: now)
    }

    /// The vCPU at the front of the run queue, for ``timeSlice``; `nil` when the queue is empty.
    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? { fifo.pickNext(at: now) }

    /// Ends a running vCPU's slice; a preempted vCPU goes to the back of the run queue.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is running.
    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        try fifo.account(vcpu, ran: ran, at: now, outcome: outcome)
    }

    /// Always `false`: a running vCPU keeps its CPU until its slice ends.
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        false
    }

    /// Always `nil`: round robin has no timers of its own.
    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    /// Every vCPU is entitled to an equal share.
    public func entitlement(of vcpu: VCPUID) -> Entitlement? { fifo.entitlement(of: vcpu) }

    /// The vCPU's state, or `nil` when it is unknown.
    public func state(of vcpu: VCPUID) -> VCPURunState? { fifo.state(of: vcpu) }
}
