import HostSupport
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An eventfd is a counter: signals add up until a read returns and resets the sum; a
/// non-blocking read of zero is `nil`, not an error; a wait wakes exactly when the counter is
/// non-zero; the descriptor is close-on-exec and closed when the object goes.
@Suite(.usesKVM) struct EventFDTests {
    @Test func signalsAddUpAndAReadResets() throws {
        let event = try EventFD()
        #expect(try event.read() == nil, "a non-blocking read of zero")
        try event.signal()
        try event.signal(41)
        #expect(try event.read() == 42)
        #expect(try event.read() == nil)
    }

    @Test func initialValueAndWait() throws {
        let event = try EventFD(initialValue: 5)
        #expect(try event.wait(timeoutMilliseconds: 0), "readable at once")
        #expect(try event.read() == 5)
        #expect(try !event.wait(timeoutMilliseconds: 0), "not readable after the read")
    }

    @Test func aSignalFromAnotherThreadWakesAWaiter() throws {
        let event = try EventFD()
        let thread = try HostThread.spawn { try? event.signal(3) }
        #expect(try event.wait(timeoutMilliseconds: 10_000), "woken by the other thread's signal")
        thread.join()
        #expect(try event.read() == 3)
    }

    @Test func descriptorIsCloseOnExecAndClosedOnRelease() throws {
        var event: EventFD? = try EventFD()
        let fd = event!.fileDescriptor.rawValue
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        event = nil
        #expect(fcntl(fd, F_GETFD) == -1 && errno == EBADF)
    }
}
