/// A policy and its accounting, driven together: the one place that turns a dispatcher's
/// events (a vCPU arrived, woke, blocked, got a CPU, gave it back) into policy calls and
/// accounting. The ``Simulator`` drives one on its virtual clock; a real dispatcher keeps one
/// behind a lock (for example `Mutex<SchedulerCore<P>>`) and drives it from its worker
/// threads with `CLOCK_MONOTONIC`, so both report the same figures the same way.
public struct SchedulerCore<Policy: SchedulingPolicy>: Sendable {
    /// The policy making the decisions.
    public private(set) var policy: Policy
    /// Per-vCPU and per-VM accounting and runnable-to-running latencies.
    public private(set) var accountant = SchedulerAccountant()

    /// A core around `policy`, with empty accounting.
    public init(policy: Policy) { self.policy = policy }

    /// Registers a vCPU (blocked until ``wake(_:at:)``).
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        try policy.add(vcpu, parameters: parameters, at: now)
        try accountant.register(vcpu, at: now)
    }

    /// Takes a vCPU that is not running out of the policy (its accounting is kept).
    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        if policy.state(of: vcpu) == .runnable { try accountant.blocked(vcpu, at: now) }
        try policy.remove(vcpu, at: now)
    }

    /// A blocked vCPU became runnable.
    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try policy.wake(vcpu, at: now)
        try accountant.woke(vcpu, at: now)
    }

    /// A runnable vCPU that is not running leaves the run queue.
    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try policy.block(vcpu, at: now)
        try accountant.blocked(vcpu, at: now)
    }

    /// Picks the vCPU for a free CPU (it is running from `now`), or `nil`.
    public mutating func pickNext(at now: Nanoseconds) throws(SchedulerError) -> SchedulingDecision? {
        guard let decision = policy.pickNext(at: now) else { return nil }
        try accountant.started(decision.vcpu, at: now)
        return decision
    }

    /// A running vCPU gave its CPU back at `now`. Everything since it was picked is charged to
    /// it; `exitHandling` of that was spent handling its exits (T_io).
    public mutating func finish(
        _ vcpu: VCPUID, exitHandling: Nanoseconds, outcome: SliceOutcome, at now: Nanoseconds
    ) throws(SchedulerError) {
        let held = try accountant.stopped(vcpu, at: now, exitHandling: exitHandling, outcome: outcome)
        try policy.account(vcpu, ran: held, at: now, outcome: outcome)
    }

    /// Whether a running vCPU should be preempted now (ask after wake-ups and at
    /// ``nextEventTime(after:)``).
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        policy.shouldPreempt(vcpu, ranFor: ranFor, at: now)
    }

    /// When to ask the policy again even if nothing happens.
    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? { policy.nextEventTime(after: now) }

    /// Closes every vCPU's current interval at `now` (before reading the accounting).
    public mutating func settle(at now: Nanoseconds) { accountant.settle(at: now) }

    /// Clears the latency samples (a long-running dispatcher reports per interval).
    public mutating func resetLatencies() { accountant.resetLatencies() }
}
