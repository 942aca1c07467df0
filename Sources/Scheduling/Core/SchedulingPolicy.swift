/// A scheduling policy: decides which runnable vCPU runs next and for how long.
///
/// A policy is a value-type state machine that knows nothing about KVM, threads or clocks.
/// Each vCPU it knows is ``VCPURunState/blocked``, ``VCPURunState/runnable`` or
/// ``VCPURunState/running``:
///
/// ```
///  add ──▶ blocked ──wake──▶ runnable ──pickNext──▶ running
///            ▲   ◀──block──────┘  ▲                  │
///            │                    └──account(.preempted)
///            └──────────────────────account(.blocked)
/// ```
///
/// The same policy value drives the deterministic ``Simulator`` and a real dispatcher (which
/// keeps it behind a lock and calls it from its worker threads). Every operation takes the
/// current time; times passed to one policy must never go backwards. `pickNext(at:)` and
/// `account(_:ran:at:outcome:)` are O(log n) in the number of runnable vCPUs (amortised for
/// the timer work a policy does lazily inside them).
public protocol SchedulingPolicy: Sendable {
    /// A short human-readable name ("round-robin 10 ms", …).
    var name: String { get }

    /// Registers a vCPU; it starts ``VCPURunState/blocked`` (wake it when it can run).
    mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds) throws(SchedulerError)

    /// Forgets a vCPU that is not running (account it first).
    mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError)

    /// A blocked vCPU became runnable (interrupt for a halted vCPU, I/O completed, arrival).
    mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError)

    /// A runnable vCPU that is not running leaves the run queue (paused by its owner, …).
    mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError)

    /// Picks the vCPU to run next on a free CPU and marks it running, or returns `nil` when no
    /// vCPU is eligible now (``nextEventTime(after:)`` says when to ask again).
    mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision?

    /// Reports that a running vCPU stopped after using `ran` nanoseconds of CPU, and whether
    /// it is still runnable (``SliceOutcome/preempted``) or left the run queue
    /// (``SliceOutcome/blocked``).
    mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError)

    /// Tick and wake-up decision: should the running `vcpu`, which has run `ranFor`
    /// nanoseconds of its current slice, give its CPU up now? A dispatcher asks after a
    /// wake-up and at ``nextEventTime(after:)``; slice expiry needs no question (the slice
    /// length is in the ``SchedulingDecision``).
    mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool

    /// The earliest time after `now` at which the policy's decisions change on their own
    /// (a capped vCPU's new period, a real-time replenishment or deadline), or `nil`.
    func nextEventTime(after now: Nanoseconds) -> Nanoseconds?

    /// What share of the machine `vcpu` is entitled to, for fairness metrics; `nil` when
    /// the vCPU is unknown.
    func entitlement(of vcpu: VCPUID) -> Entitlement?

    /// Deadlines the policy saw missed for `vcpu` (only real-time policies count them).
    func deadlineMisses(of vcpu: VCPUID) -> Int

    /// The policy's view of a vCPU's state, or `nil` when unknown.
    func state(of vcpu: VCPUID) -> VCPURunState?
    /// Gives a vCPU that is not running new parameters (a resized share), keeping it blocked or
    /// runnable as it was. Either the change is made or the policy is left as it was.
    mutating func update(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
}

extension SchedulingPolicy {
    /// 0: policies without deadlines miss none.
    public func deadlineMisses(of vcpu: VCPUID) -> Int { 0 }

    /// Removes the vCPU and adds it back with `parameters` (woken again if it was runnable), on
    /// a copy of the policy that replaces this one only when every step succeeded. The vCPU
    /// re-enters as a newcomer would: a proportional policy places it at the current average
    /// virtual time, a capped one starts a fresh budget.
    ///
    /// - Throws: ``SchedulerError/unknownVCPU(_:)``; ``SchedulerError/invalidTransition(_:operation:state:)``
    ///   when it is running; what ``add(_:parameters:at:)`` throws for parameters the policy
    ///   cannot use (the policy unchanged).
    public mutating func update(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        guard let state = state(of: vcpu) else { throw .unknownVCPU(vcpu) }
        guard state != .running else { throw .invalidTransition(vcpu, operation: "update", state: .running) }
        var updated = self
        try updated.remove(vcpu, at: now)
        try updated.add(vcpu, parameters: parameters, at: now)
        if state == .runnable { try updated.wake(vcpu, at: now) }
        self = updated
    }
}

/// The answer of ``SchedulingPolicy/pickNext(at:)``: run `vcpu` for at most `slice`.
public struct SchedulingDecision: Sendable, Equatable {
    /// The vCPU to run.
    public let vcpu: VCPUID
    /// The longest the vCPU may run before the dispatcher preempts it (at least 1 ns).
    public let slice: Nanoseconds

    /// A decision; a zero slice is raised to 1 ns.
    public init(vcpu: VCPUID, slice: Nanoseconds) {
        self.vcpu = vcpu
        self.slice = max(1, slice)
    }
}

/// How a slice ended, as far as the policy is concerned.
public enum SliceOutcome: Sendable, Equatable {
    /// The vCPU is still runnable: its slice expired or it was preempted.
    case preempted
    /// The vCPU left the run queue: it halted or waits for I/O.
    case blocked
}

/// A vCPU's claim on the machine, used to compute entitled shares (see ``FairShare``).
public struct Entitlement: Sendable, Equatable {
    /// Relative weight among competing vCPUs.
    public var weight: Double
    /// The most of one CPU this vCPU may get (a cap or a real-time budget), at most 1.
    public var maximumFraction: Double

    /// An entitlement; `maximumFraction` is clamped to 0...1.
    public init(weight: Double, maximumFraction: Double = 1) {
        self.weight = weight
        self.maximumFraction = min(1, max(0, maximumFraction))
    }
}
