import Scheduling
import VCPU

/// One vCPU's share of a run: what it cost and where its time went (T_i = T_cpu + T_io + T_wait).
public struct VCPUUsage: Sendable, Equatable {
    /// The vCPU's index.
    public var index: Int
    /// Exits of every kind.
    public var exits: UInt64
    /// Port-I/O and MMIO exits.
    public var ioExits: UInt64
    /// T_cpu: time on a host CPU (the kernel's schedstat for the vCPU thread), in the guest and
    /// handling exits; `nil` once the thread has ended.
    public var cpuNanoseconds: UInt64?
    /// T_io: time spent handling port-I/O and MMIO exits in the VMM (part of T_cpu).
    public var ioNanoseconds: UInt64
    /// T_wait: time the vCPU thread was runnable but waiting for a host CPU; `nil` once the
    /// thread has ended.
    public var waitNanoseconds: UInt64?

    init(index: Int, statistics: ExitStatistics, threadID: Int32?) {
        self.index = index
        exits = statistics.totalCount
        let io: [ExitKind] = [.ioIn, .ioOut, .mmioRead, .mmioWrite]
        ioExits = io.reduce(0) { $0 + statistics.count($1) }
        ioNanoseconds = io.reduce(0) { $0 + statistics.summary($1).totalNanoseconds }
        let schedstat = threadID.flatMap { try? ThreadSchedStat.read(threadID: $0) }
        cpuNanoseconds = schedstat?.onCPU
        waitNanoseconds = schedstat?.runQueueWait
    }
}
