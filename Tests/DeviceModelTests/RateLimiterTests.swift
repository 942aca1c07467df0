import DeviceModel
import HostSupport
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A token bucket lets through at most its size plus its one-time burst plus what refills in
/// the time elapsed — exactly, at any step of time —, lets a request larger than itself through
/// once full and makes the next ones wait for the debt; a rate limiter takes bytes and
/// operations together or not at all, and when it refuses, its timer becomes readable at the
/// time the request can pass (also at once when the limits change while it waits).
@Suite struct TokenBucketTests {
    /// A bucket behind a reference, so that `#expect` can call its mutating methods.
    final class Bucket {
        var bucket: TokenBucket
        init(_ bucket: TokenBucket) { self.bucket = bucket }
        func consume(_ tokens: UInt64, now: UInt64) -> Bool { bucket.consume(tokens, now: now) }
        func nanosecondsUntilAvailable(_ tokens: UInt64, now: UInt64) -> UInt64 {
            bucket.nanosecondsUntilAvailable(tokens, now: now)
        }
        var budget: Int64 { bucket.budget }
        var burstLeft: UInt64 { bucket.burstLeft }
    }

    @Test func aFullBucketEmptiesAndRefillsAtItsRate() throws {
        // 1000 tokens refilled in 1 s: one token per millisecond.
        let bucket = Bucket(try TokenBucket(size: 1000, refillTimeNanoseconds: 1_000_000_000, now: 0))
        #expect(bucket.consume(1000, now: 0))
        #expect(!bucket.consume(1, now: 0))
        #expect(bucket.nanosecondsUntilAvailable(1, now: 0) == 1_000_000)
        #expect(!bucket.consume(1, now: 999_999), "a token refills in exactly 1 ms")
        #expect(bucket.consume(1, now: 1_000_000))
        #expect(bucket.nanosecondsUntilAvailable(250, now: 1_000_000) == 250_000_000)
        #expect(bucket.consume(250, now: 251_000_000))
        // Never more than the size, however long it waits.
        #expect(bucket.consume(1000, now: 10_000_000_000))
        #expect(!bucket.consume(1, now: 10_000_000_000))
    }

    @Test func theOneTimeBurstIsSpentFirstAndNeverRefilled() throws {
        let bucket = Bucket(try TokenBucket(size: 100, oneTimeBurst: 50, refillTimeNanoseconds: 1_000_000, now: 0))
        #expect(bucket.consume(150, now: 0), "burst and budget together")
        #expect(bucket.burstLeft == 0 && bucket.budget == 0)
        #expect(!bucket.consume(1, now: 0))
        #expect(bucket.consume(100, now: 10_000_000))
        #expect(!bucket.consume(1, now: 10_000_000), "the burst did not come back")
    }

    @Test func aRequestLargerThanTheBucketPassesWhenFullAndLeavesADebt() throws {
        let bucket = Bucket(try TokenBucket(size: 100, refillTimeNanoseconds: 100_000_000, now: 0))  // 1 token/ms
        #expect(bucket.consume(300, now: 0))
        #expect(bucket.budget == -200)
        // The debt (200) and the next token (1) must refill first: 201 ms.
        #expect(bucket.nanosecondsUntilAvailable(1, now: 0) == 201_000_000)
        #expect(!bucket.consume(1, now: 200_999_999))
        #expect(bucket.consume(1, now: 201_000_000))
        // Not full: the next large request waits until it is.
        #expect(!bucket.consume(300, now: 201_000_000))
        #expect(bucket.nanosecondsUntilAvailable(300, now: 201_000_000) == 100_000_000)
    }

    /// Consumers asking every `step` for `request` tokens get, over any span, at most the
    /// bucket plus what refilled — and, when they ask often enough, exactly that up to one
    /// request.
    @Test(arguments: [(1_000 as UInt64, 7 as UInt64), (333_333, 512), (10_000_000, 4096)])
    func throughputMatchesTheRate(step: UInt64, request: UInt64) throws {
        let size: UInt64 = 64 << 10
        let refill: UInt64 = 50_000_000  // 64 KiB per 50 ms: 1.25 MiB/s
        var bucket = try TokenBucket(size: size, refillTimeNanoseconds: refill, now: 0)
        var passed: UInt64 = 0
        let span: UInt64 = 3_000_000_000
        var now: UInt64 = 0
        while now <= span {
            if bucket.consume(request, now: now) { passed += request }
            now += step
        }
        let allowed = size + span * size / refill  // the first bucket plus the refill
        #expect(passed <= allowed)
        // Requests come at least as often as tokens refill: the shortfall is at most one request
        // (the refill not yet used) plus one step's refill.
        if step * size / refill <= request {
            #expect(allowed - passed <= request + step * size / refill + 1)
        }
    }

    @Test func invalidParametersAreRefused() {
        #expect(throws: TokenBucketError.invalidSize(0)) { try TokenBucket(size: 0, refillTimeNanoseconds: 1, now: 0) }
        #expect(throws: TokenBucketError.invalidRefillTime) {
            try TokenBucket(size: 1, refillTimeNanoseconds: 0, now: 0)
        }
    }
}

@Suite(.usesKVM) struct RateLimiterTests {
    /// A clock the test moves by hand.
    final class Clock: Sendable {
        let now = Atomic<UInt64>(1_000_000_000)
        func advance(_ nanoseconds: UInt64) { now.add(nanoseconds, ordering: .relaxed) }
        var read: @Sendable () -> UInt64 { { [self] in now.load(ordering: .relaxed) } }
    }

    /// Whether `timer` is readable within `milliseconds` (a hang guard for the positive case).
    func readable(_ timer: TimerFD, within milliseconds: Int32) -> Bool {
        var pfd = pollfd(fd: timer.fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, milliseconds) == 1
    }

    @Test func bytesAndOperationsAreTakenTogetherOrNotAtAll() throws {
        let clock = Clock()
        let limiter = try RateLimiter(
            RateLimits(
                bandwidth: .init(size: 1000, refillTimeNanoseconds: 1_000_000_000),
                operations: .init(size: 2, refillTimeNanoseconds: 1_000_000_000)), clock: clock.read)
        #expect(limiter.consume(bytes: 400))
        #expect(limiter.consume(bytes: 400))
        // Bytes remain (200) but no operation: refused, and no byte taken.
        #expect(!limiter.consume(bytes: 100))
        #expect(limiter.isBlocked)
        clock.advance(500_000_000)  // one operation and 500 bytes back
        #expect(limiter.consume(bytes: 700))
        let statistics = limiter.statistics
        #expect(statistics.bytes == 1500 && statistics.operations == 3 && statistics.throttled == 1)
        limiter.giveBack(bytes: 700)
        #expect(limiter.statistics.bytes == 800 && limiter.statistics.operations == 2)
    }

    @Test func aRefusedRequestArmsTheTimerForWhenItCanPass() throws {
        // The real clock: 100 tokens per 200 ms.
        let limiter = try RateLimiter(RateLimits(bandwidth: .init(size: 100, refillTimeNanoseconds: 200_000_000)))
        #expect(limiter.consume(bytes: 100))
        #expect(!limiter.consume(bytes: 50))  // 50 tokens: 100 ms away
        // Hang guard only: the timer fires when the tokens are there, and then they are.
        #expect(readable(limiter.timer, within: 10_000))
        limiter.timerFired()
        #expect(!limiter.isBlocked)
        #expect(limiter.consume(bytes: 50), "the timer fired no earlier than the tokens were back")
    }

    @Test func newLimitsWakeAThrottledConsumerAtOnce() throws {
        let clock = Clock()  // frozen: only new limits can let the request through
        let limiter = try RateLimiter(
            RateLimits(bandwidth: .init(size: 10, refillTimeNanoseconds: 3_600_000_000_000)), clock: clock.read)
        #expect(limiter.consume(bytes: 10))
        #expect(!limiter.consume(bytes: 10))
        try limiter.update(RateLimits(bandwidth: .init(size: 1 << 20, refillTimeNanoseconds: 1_000_000)))
        #expect(readable(limiter.timer, within: 10_000))
        limiter.timerFired()
        #expect(limiter.consume(bytes: 10))
        // Removing the limit lets everything through.
        try limiter.update(RateLimits())
        #expect(limiter.consume(bytes: 1 << 40, operations: 1 << 40))
        #expect(throws: RateLimiterError.invalidBucket("operations", .invalidRefillTime)) {
            try limiter.update(RateLimits(operations: .init(size: 1, refillTimeNanoseconds: 0)))
        }
    }
}
