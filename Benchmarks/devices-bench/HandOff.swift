import HostSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Control for the polled path at depth 1: the same `pread` done by a second thread that spins
/// on a shared counter, handed over and back the way a polling event loop and its driver do
/// (the request through memory, the completion through an eventfd the caller spins on) — but
/// with no device, ring or guest memory in between. What it costs over the one-thread control
/// is the floor the two cores of this host put under any polled device.
final class HandOff: Sendable {
    private let requested = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)
    private let completion: EventFD
    private let thread = Mutex<HostThread?>(nil)
    private let descriptor: Int32
    /// The 4 KiB buffer the other thread reads into (its address: a pointer is not Sendable).
    private let bufferAddress: UInt

    init(descriptor: Int32) throws {
        self.descriptor = descriptor
        completion = try EventFD(nonBlocking: true)
        bufferAddress = UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096))
        let handle = try HostThread.spawn { [self] in serve() }
        thread.withLock { $0 = handle }
    }

    deinit { UnsafeMutableRawPointer(bitPattern: bufferAddress)?.deallocate() }

    /// Stops and joins the spinning thread (which holds the object until then).
    func stop() {
        stopping.store(true, ordering: .releasing)
        thread.withLock { handle in
            handle?.join()
            handle = nil
        }
    }

    /// Reads 4 KiB at `offset` on the other thread and waits (spinning) for it.
    func read(at offset: UInt64) throws -> Bool {
        requested.store(offset + 1, ordering: .releasing)
        while true {
            if let n = try completion.read() { return n == 1 }
        }
    }

    private func serve() {
        let buffer = UnsafeMutableRawPointer(bitPattern: bufferAddress).unsafelyUnwrapped
        while !stopping.load(ordering: .acquiring) {
            let request = requested.exchange(0, ordering: .acquiringAndReleasing)
            if request == 0 { continue }
            let n = pread(descriptor, buffer, 4096, off_t(request - 1))
            try? completion.signal(n == 4096 ? 1 : 2)
        }
    }
}
