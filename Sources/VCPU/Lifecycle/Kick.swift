import KVM

#if canImport(Glibc)
    import Glibc
#endif

/// The real-time signal that kicks vCPU threads out of `KVM_RUN`.
///
/// Its handler does nothing; it is installed without `SA_RESTART`, so a signal delivered while
/// the thread is in `KVM_RUN` makes the ioctl return `EINTR`. Installed once per process, the
/// first time a vCPU thread starts.
public enum KickSignal {
    /// The signal number: `SIGRTMIN + 0` (glibc reserves the two below it).
    public static var number: Int32 { installed }

    private static let installed: Int32 = {
        let signal = ckvmSignalNumber()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(signal, &action, nil)
        return signal
    }()

    /// Unblocks the kick signal on the calling thread (the vCPU thread).
    static func unblockOnCurrentThread() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

private func ckvmSignalNumber() -> Int32 { ckvm_sigrtmin() }
