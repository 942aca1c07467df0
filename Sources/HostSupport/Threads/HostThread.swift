import CHostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A joinable host thread (pthread) running a Swift closure: the package's one way to start
/// a thread of its own (vCPU run loops, virtio queue workers, dispatcher workers).
///
/// A value type over `pthread_t`: it does not own the thread. Whoever starts it joins it
/// exactly once (``join()``) or detaches it (``detach()``).
public struct HostThread: Sendable, Equatable {
    /// The pthread handle.
    public let handle: pthread_t

    private final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a thread that runs `body`.
    ///
    /// - Throws: ``SystemCallError`` named `pthread_create` with its error number (for example
    ///   `EAGAIN` when the process is out of threads).
    public static func spawn(_ body: @escaping @Sendable () -> Void) throws(SystemCallError) -> HostThread {
        let context = Unmanaged.passRetained(Start(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw SystemCallError(operation: "pthread_create", errno: .init(rawValue: result))
        }
        return HostThread(handle: thread)
    }

    /// The calling thread.
    public static var current: HostThread { HostThread(handle: pthread_self()) }

    /// Whether this is the calling thread.
    public var isCurrent: Bool { pthread_equal(handle, pthread_self()) != 0 }

    /// Waits for the thread to end. Call once, and never from the thread itself.
    public func join() { pthread_join(handle, nil) }

    /// Lets the thread's resources go when it ends, without a join. Call instead of ``join()``.
    public func detach() { pthread_detach(handle) }

    /// Sends `signal` to the thread (`pthread_kill`); returns `false` if it has ended.
    @discardableResult
    public func send(signal: Int32) -> Bool { pthread_kill(handle, signal) == 0 }

    /// The kernel thread id of the calling thread (`gettid`, for `/proc/self/task/<tid>`).
    public static var currentKernelID: Int32 { chost_gettid() }

    private init(handle: pthread_t) { self.handle = handle }

    /// Whether `a` and `b` are the same thread (`pthread_equal`).
    public static func == (a: HostThread, b: HostThread) -> Bool { pthread_equal(a.handle, b.handle) != 0 }
}
