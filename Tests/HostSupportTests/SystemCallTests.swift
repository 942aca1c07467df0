import HostSupport
import SystemPackage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The one system-call helper retries exactly `EINTR`, reports every other failure as a
/// `SystemCallError` that names the call and carries its errno, and finishes partial transfers.
@Suite struct SystemCallTests {
    @Test func retriesOnlyInterruptedCalls() throws {
        var attempts = 0
        let result = try SystemCall.retrying("fake") { () -> Int32 in
            attempts += 1
            if attempts < 3 {
                errno = EINTR
                return -1
            }
            return 7
        }
        #expect(result == 7)
        #expect(attempts == 3, "two EINTR failures, then the result")
    }

    @Test func otherFailuresNameTheCallAndItsErrno() {
        #expect(throws: SystemCallError(operation: "close(-1)", errno: .badFileDescriptor)) {
            try SystemCall.retrying("close(-1)") { close(-1) }
        }
        var attempts = 0
        #expect(throws: SystemCallError(operation: "fake", errno: .resourceTemporarilyUnavailable)) {
            try SystemCall.retrying("fake") { () -> Int in
                attempts += 1
                errno = EAGAIN
                return -1
            }
        }
        #expect(attempts == 1, "EAGAIN is not retried")
    }

    @Test func transferAllFinishesShortTransfers() throws {
        // A call that moves at most 3 bytes at a time and is interrupted once.
        var calls: [Int] = []
        var interrupted = false
        let done = try SystemCall.transferAll(10, "fake", zeroEndsTransfer: true) { done -> Int in
            calls.append(done)
            if done == 3 && !interrupted {
                interrupted = true
                errno = EINTR
                return -1
            }
            return min(3, 10 - done)
        }
        #expect(done == 10)
        #expect(calls == [0, 3, 3, 6, 9])
    }

    @Test func zeroEndsAReadAndFailsAWrite() throws {
        let read = try SystemCall.transferAll(10, "read", zeroEndsTransfer: true) { done in done < 4 ? 4 : 0 }
        #expect(read == 4, "end of file after 4 bytes")
        #expect(throws: SystemCallError(operation: "write", errno: .ioError)) {
            try SystemCall.transferAll(10, "write", zeroEndsTransfer: false) { done in done < 4 ? 4 : 0 }
        }
    }

    @Test func ownedDescriptorClosesExactlyOnce() throws {
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        do {
            let owned = OwnedDescriptor(rawValue: fd)
            #expect(owned.raw.rawValue == fd)
            #expect(fcntl(fd, F_GETFD) >= 0, "open while owned")
        }
        #expect(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "closed when the owner went away")
    }
}
