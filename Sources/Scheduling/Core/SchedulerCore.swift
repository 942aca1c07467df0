/// A policy and its accounting, driven together: the one place that turns a dispatcher's
/// events (a vCPU arrived, woke, blocked, got a CPU, gave it back) into policy calls and
/// accounting. The ``Simulator`` drives one on its virtual clock; a real dispatcher keeps one
/// behind a lock (for example `Mutex<SchedulerCore<P>>`) and drives it from its worker
/// threads with `CLOCK_MONOTONIC`, so both report the same figures the same way.
///
/// Times passed in are made monotonic (a time earlier than one already seen is taken as that
/// one), since worker threads that read the clock before taking the lock can arrive out of
/// order; the policy then never sees time go backwards.
public struct SchedulerCore<Policy: SchedulingPolicy>: Sendable {
    /// The policy making the decisions.
    public private(set) var policy: Policy
    /// Per-vCPU and per-VM accounting and runnable-to-running latencies.
    public private(set) var accountant = SchedulerAccountant()
    /// The latest time seen.
    public private(set) var now: Nanoseconds = 0

    /// A core around `policy`, with empty accounting.
    public init(policy: Policy) { self.policy = policy }

    /// Registers a vCPU (blocked until ``wake(_:at:)``).
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at time: Nanoseconds)
        throws(SchedulerError)
    {
        let now = observe(time)
        try policy.add(vcpu, parameters: parameters, at: now)
        try accountant.register(vcpu, at: now)
    }

    /// Takes a vCPU that is not running out of the policy (its accounting is kept).
    public mutating func remove(_ vcpu: VCPUID, at time: Nanoseconds) throws(SchedulerError) {
        let now = observe(time)
        let wasRunnable = policy.state(of: vcpu) == .runnable
        try policy.remove(vcpu, at: now)
        if wasRunnable { try accountant.blocked(vcpu, at: now) }
    }

    /// Takes a vCPU that is not running out of the policy, if it is still there, and out of
    /// the accounting; returns its accounting up to `time` (`nil` for an unknown vCPU).
    public mutating func forget(_ vcpu: VCPUID, at time: Nanoseconds) throws(SchedulerError) -> VCPUAccounting? {
        let now = observe(time)
        if policy.state(of: vcpu) != nil { try remove(vcpu, at: now) }
        return accountant.forget(vcpu, at: now)
    }

    /// New parameters for a vCPU that is not running (see ``SchedulingPolicy/update(_:parameters:at:)``);
    /// its accounting goes on.
    public mutating func update(_ vcpu: VCPUID, parameters: SchedulingParameters, at time: Nanoseconds)
        throws(SchedulerError)
    {
        try policy.update(vcpu, parameters: parameters, at: observe(time))
    }

    /// A blocked vCPU became runnable.
    public mutating func wake(_ vcpu: VCPUID, at time: Nanoseconds) throws(SchedulerError) {
        let now = observe(time)
        try policy.wake(vcpu, at: now)
        try accountant.woke(vcpu, at: now)
    }

    /// A runnable vCPU that is not running leaves the run queue.
    public mutating func block(_ vcpu: VCPUID, at time: Nanoseconds) throws(SchedulerError) {
        let now = observe(time)
        try policy.block(vcpu, at: now)
        try accountant.blocked(vcpu, at: now)
    }

    /// Picks the vCPU for a free CPU (it is running from `time`), or `nil`.
    public mutating func pickNext(at time: Nanoseconds) throws(SchedulerError) -> SchedulingDecision? {
        let now = observe(time)
        guard let decision = policy.pickNext(at: now) else { return nil }
        try accountant.started(decision.vcpu, at: now)
        return decision
    }

    /// A running vCPU gave its CPU back at `time`. Everything since it was picked is charged
    /// to it; `exitHandling` of that was spent handling its exits (T_io).
    public mutating func finish(
        _ vcpu: VCPUID, exitHandling: Nanoseconds, outcome: SliceOutcome, at time: Nanoseconds
    ) throws(SchedulerError) {
        let now = observe(time)
        let held = try accountant.stopped(vcpu, at: now, exitHandling: exitHandling, outcome: outcome)
        try policy.account(vcpu, ran: held, at: now, outcome: outcome)
    }

    /// Whether a running vCPU should be preempted now (ask after wake-ups and at
    /// ``nextEventTime(after:)``).
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at time: Nanoseconds) -> Bool {
        let now = observe(time)
        return policy.shouldPreempt(vcpu, ranFor: ranFor, at: now)
    }

    /// When to ask the policy again even if nothing happens.
    public func nextEventTime(after time: Nanoseconds) -> Nanoseconds? {
        policy.nextEventTime(after: max(now, time))
    }

    /// Closes every vCPU's current interval at `time` (before reading the accounting).
    public mutating func settle(at time: Nanoseconds) { accountant.settle(at: observe(time)) }

    /// Clears the latency samples (a long-running dispatcher reports per interval).
    public mutating func resetLatencies() { accountant.resetLatencies() }

    /// Takes `time` into account and returns the monotonic time to use.
    private mutating func observe(_ time: Nanoseconds) -> Nanoseconds {
        now = max(now, time)
        return now
    }
}
