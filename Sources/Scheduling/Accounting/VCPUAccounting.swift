/// Where one vCPU's (or one VM's) time went, as the scheduler saw it.
public struct VCPUAccounting: Sendable, Equatable {
    /// T_cpu: time spent in the guest.
    public var cpuTime: Nanoseconds = 0
    /// T_io: time the VMM spent handling the vCPU's exits while it held a CPU.
    public var ioTime: Nanoseconds = 0
    /// T_wait: time runnable but not running.
    public var waitTime: Nanoseconds = 0
    /// Time off the run queue (halted, waiting for I/O, throttled by a cap).
    public var blockedTime: Nanoseconds = 0
    /// Number of times the vCPU got a CPU.
    public var slices: UInt64 = 0
    /// Number of slices that ended with the vCPU still runnable (slice expired or preempted).
    public var preemptions: UInt64 = 0
    /// Number of times the vCPU went from blocked to runnable.
    public var wakeups: UInt64 = 0

    /// All zero.
    public init() {}

    /// CPU time in total (guest plus exit handling).
    public var runTime: Nanoseconds { cpuTime &+ ioTime }

    /// Adds another record (to total vCPUs into a VM).
    public static func + (a: VCPUAccounting, b: VCPUAccounting) -> VCPUAccounting {
        var sum = a
        sum.cpuTime &+= b.cpuTime
        sum.ioTime &+= b.ioTime
        sum.waitTime &+= b.waitTime
        sum.blockedTime &+= b.blockedTime
        sum.slices &+= b.slices
        sum.preemptions &+= b.preemptions
        sum.wakeups &+= b.wakeups
        return sum
    }
}
