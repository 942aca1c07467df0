#if canImport(Glibc)
    import HostSupport
    import Glibc
#endif

/// The host scheduling class of a dispatcher's worker threads.
///
/// A worker sleeps while its vCPU runs and must wake at the end of the slice to kick it. On a
/// loaded host a worker with the same priority as the guest threads can wake milliseconds late
/// (CFS wake-up granularity), so slices overrun. A worker that outranks the guest threads
/// wakes at once; it uses the CPU only for microseconds per slice.
public enum WorkerPriority: Sendable, Equatable {
    /// As the thread that started the dispatcher.
    case inherited
    /// `SCHED_OTHER` with this nice value (`setpriority`; below 0 needs `CAP_SYS_NICE`).
    case nice(Int32)
    /// `SCHED_FIFO` with this priority (1...99; needs `CAP_SYS_NICE`). A FIFO worker preempts
    /// any normal thread on wake-up. The worker is set with `SCHED_RESET_ON_FORK`, so the vCPU
    /// threads it starts (a `GatedVCPU`'s runner is created in its first slice) run in the
    /// normal class: a guest spinning on a FIFO thread would keep the workers, at the same
    /// priority, from ever ending its slice.
    case realTimeFIFO(Int32)

    /// `SCHED_RESET_ON_FORK` (linux/sched.h): children and new threads do not inherit a
    /// real-time class or a negative nice value.
    static let resetOnFork: Int32 = 0x4000_0000

    /// Applies the class to the calling thread; returns whether the kernel accepted it (a
    /// refused change leaves the thread as it was).
    @discardableResult
    public func applyToCurrentThread() -> Bool {
        switch self {
        case .inherited:
            return true
        case .nice(let value):
            let tid = HostThread.currentKernelID
            return setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), value) == 0
        case .realTimeFIFO(let priority):
            var parameters = sched_param(sched_priority: priority)
            // For this thread (a tid), not the process; threads it creates start as SCHED_OTHER.
            return sched_setscheduler(HostThread.currentKernelID, SCHED_FIFO | Self.resetOnFork, &parameters) == 0
        }
    }
}
