/// One slice of a schedule — simulated, or recorded by a real dispatcher that keeps a trace: a
/// vCPU held a CPU (a worker slot) from `start` to `end`.
public struct SliceRecord: Sendable, Equatable, CustomStringConvertible {
    /// The CPU index (the simulator's virtual CPU, or the dispatcher's worker slot).
    public let cpu: Int
    /// The vCPU that ran.
    public let vcpu: VCPUID
    /// When it got the CPU.
    public let start: Nanoseconds
    /// When it gave it back.
    public let end: Nanoseconds
    /// Part of the slice spent handling the vCPU's exits (T_io).
    public let exitHandling: Nanoseconds
    /// Whether the vCPU was still runnable at the end.
    public let outcome: SliceOutcome

    /// A record.
    public init(
        cpu: Int, vcpu: VCPUID, start: Nanoseconds, end: Nanoseconds, exitHandling: Nanoseconds,
        outcome: SliceOutcome
    ) {
        self.cpu = cpu
        self.vcpu = vcpu
        self.start = start
        self.end = end
        self.exitHandling = exitHandling
        self.outcome = outcome
    }

    /// `cpu0 vm0.1 1000-4000 io=0 preempted`: one line of a textual trace.
    public var description: String {
        "cpu\(cpu) \(vcpu) \(start)-\(end) io=\(exitHandling) \(outcome == .preempted ? "preempted" : "blocked")"
    }
}
