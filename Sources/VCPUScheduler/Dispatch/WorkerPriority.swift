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
    /// any normal thread on wake-up.
    case realTimeFIFO(Int32)

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
            return pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0
        }
    }
}
