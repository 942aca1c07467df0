import HostSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Threads run their closure and are joined; the kernel thread id is the one procfs reports;
/// the condition lock hands values between threads and its timed wait returns at its deadline.
@Suite struct ThreadTests {
    @Test func spawnRunsTheBodyOnAnotherThreadAndJoinWaitsForIt() throws {
        let ran = Atomic<Int32>(0)
        let caller = HostThread.currentKernelID
        let thread = try HostThread.spawn {
            ran.store(HostThread.currentKernelID, ordering: .sequentiallyConsistent)
        }
        #expect(!thread.isCurrent)
        thread.join()
        let id = ran.load(ordering: .sequentiallyConsistent)
        #expect(id != 0 && id != caller, "ran on a thread of its own")
        #expect(HostThread.current.isCurrent)
    }

    @Test func kernelThreadIDMatchesProcfs() throws {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count)
        try #require(count > 0, "procfs is not mounted")
        let link = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(link.split(separator: "/").last.flatMap { Int32($0) } == HostThread.currentKernelID)
    }

    @Test func conditionLockHandsAValueToAWaiter() throws {
        let lock = ConditionLock(0)
        let thread = try HostThread.spawn {
            lock.wait(until: { $0 == 1 }, then: { $0 = 2 })
        }
        lock.withLock { $0 = 1 }
        let seen = lock.wait(until: { $0 == 2 }, then: { $0 })
        thread.join()
        #expect(seen == 2)
    }

    @Test func timedWaitReturnsAtItsDeadline() {
        let lock = ConditionLock(false)
        let start = monotonicNanoseconds()
        let deadline = start + 20_000_000
        // Nobody wakes it: the attempt succeeds only once the clock has passed the deadline,
        // so the loop must have slept until then (not spun, not returned early).
        var attempts = 0
        let finished = lock.wait(
            for: { _, now -> UInt64? in
                attempts += 1
                return now >= deadline ? now : nil
            }, deadline: { _ in deadline })
        #expect(finished >= deadline)
        #expect(attempts <= 3, "slept until the deadline instead of polling (\(attempts) attempts)")
    }

    @Test func monotonicClockNeverGoesBack() {
        var last = monotonicNanoseconds()
        for _ in 0..<10_000 {
            let now = monotonicNanoseconds()
            #expect(now >= last)
            last = now
        }
    }
}
