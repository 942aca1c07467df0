import HostSupport
import Synchronization
import SystemPackage

/// What a ``RateLimiter`` allows: a bucket of bytes, a bucket of operations, or both (each
/// `nil`: unlimited). `Codable`, for a VM's configuration.
public struct RateLimits: Codable, Sendable, Hashable {
    /// One bucket's parameters (see ``TokenBucket``).
    public struct Bucket: Codable, Sendable, Hashable {
        /// Capacity in tokens (bytes or operations).
        public var size: UInt64
        /// Extra tokens spent first, once.
        public var oneTimeBurst: UInt64
        /// Time for an empty bucket to refill to `size`.
        public var refillTimeNanoseconds: UInt64

        /// A bucket of `size` tokens refilled in `refillTimeNanoseconds`, with a one-time burst.
        public init(size: UInt64, oneTimeBurst: UInt64 = 0, refillTimeNanoseconds: UInt64) {
            self.size = size
            self.oneTimeBurst = oneTimeBurst
            self.refillTimeNanoseconds = refillTimeNanoseconds
        }

        /// A bucket that allows `perSecond` tokens each second on average, with bursts of up to
        /// a tenth of a second's worth (at least one token) — a 10 MiB/s limit is
        /// `.rate(10 << 20)`.
        public static func rate(_ perSecond: UInt64, oneTimeBurst: UInt64 = 0) -> Bucket {
            Bucket(size: max(1, perSecond / 10), oneTimeBurst: oneTimeBurst, refillTimeNanoseconds: 100_000_000)
        }
    }

    /// Bytes moved (`nil`: unlimited).
    public var bandwidth: Bucket?
    /// Operations (requests, frames; `nil`: unlimited).
    public var operations: Bucket?

    /// Limits on bytes and operations.
    public init(bandwidth: Bucket? = nil, operations: Bucket? = nil) {
        self.bandwidth = bandwidth
        self.operations = operations
    }
}

/// A rate limiter for one device queue (Firecracker's model): a ``TokenBucket`` of bytes and
/// one of operations. The device asks ``consume(bytes:operations:)`` before moving a request;
/// when the limiter refuses, the device leaves the request where it is and serves the
/// limiter's ``timer`` as an event source — it becomes readable when the request can pass, so
/// a throttled queue is resumed by the event loop, never by polling. Limits change at run time
/// (``update(_:)``); throttling is counted (``statistics``).
///
/// The clock is injectable (`clock`), which makes the buckets' arithmetic deterministic under
/// test; the timer runs on the host's monotonic clock.
public final class RateLimiter: Sendable {
    private struct State {
        var bandwidth: TokenBucket?
        var operations: TokenBucket?
        var limits: RateLimits
        /// Set while a consumer was refused and the timer is armed for it.
        var blocked = false
        var statistics = RateLimiterStatistics()
    }

    private let state: Mutex<State>
    private let clock: @Sendable () -> UInt64
    /// Readable when a refused consumer may try again (serve it as an event source, then call
    /// ``timerFired()``).
    public let timer: TimerFD

    /// A limiter with `limits`, its buckets full.
    ///
    /// - Throws: ``RateLimiterError``: a bucket's parameters are invalid (``TokenBucketError``),
    ///   or the timer could not be made.
    public init(_ limits: RateLimits, clock: @escaping @Sendable () -> UInt64 = monotonicNanoseconds)
        throws(RateLimiterError)
    {
        self.clock = clock
        do { timer = try TimerFD() } catch { throw .timer(error) }
        state = Mutex(State(limits: limits))
        let now = clock()
        let (bandwidth, operations) = try Self.buckets(limits, now: now)
        state.withLock { s in
            s.bandwidth = bandwidth
            s.operations = operations
        }
    }

    private static func buckets(_ limits: RateLimits, now: UInt64) throws(RateLimiterError) -> (
        TokenBucket?, TokenBucket?
    ) {
        func bucket(_ b: RateLimits.Bucket?, _ name: String) throws(RateLimiterError) -> TokenBucket? {
            guard let b else { return nil }
            do {
                return try TokenBucket(
                    size: b.size, oneTimeBurst: b.oneTimeBurst, refillTimeNanoseconds: b.refillTimeNanoseconds, now: now
                )
            } catch {
                throw .invalidBucket(name, error)
            }
        }
        return (try bucket(limits.bandwidth, "bandwidth"), try bucket(limits.operations, "operations"))
    }

    /// The limits in force.
    public var limits: RateLimits { state.withLock { $0.limits } }

    /// Whether a consumer was refused and waits for the ``timer``.
    public var isBlocked: Bool { state.withLock { $0.blocked } }

    /// What the limiter let through and held back.
    public var statistics: RateLimiterStatistics { state.withLock { $0.statistics } }

    /// Takes `bytes` from the bandwidth bucket and `operations` from the operations bucket if
    /// both have them (all or nothing): `true`, the request may proceed. Otherwise `false`: the
    /// request must wait, and the ``timer`` is armed for when both buckets will have enough.
    public func consume(bytes: UInt64, operations: UInt64 = 1) -> Bool {
        let now = clock()
        let wait: UInt64? = state.withLock { s in
            var bandwidth = s.bandwidth
            var ops = s.operations
            let bytesOK = bandwidth?.consume(bytes, now: now) ?? true
            let opsOK = bytesOK ? (ops?.consume(operations, now: now) ?? true) : false
            if bytesOK && opsOK {
                s.bandwidth = bandwidth
                s.operations = ops
                s.statistics.bytes += bytes
                s.statistics.operations += operations
                return nil
            }
            // Nothing taken: the untouched buckets (refilled to now) tell how long to wait.
            var b = s.bandwidth
            var o = s.operations
            let delay = max(
                b?.nanosecondsUntilAvailable(bytes, now: now) ?? 0,
                o?.nanosecondsUntilAvailable(operations, now: now) ?? 0)
            s.bandwidth = b
            s.operations = o
            s.statistics.throttled += 1
            s.blocked = true
            return delay
        }
        guard let wait else { return true }
        try? timer.arm(after: max(1, wait))
        return false
    }

    /// Gives back tokens taken for a request that did not happen after all.
    public func giveBack(bytes: UInt64, operations: UInt64 = 1) {
        state.withLock { s in
            s.bandwidth?.giveBack(bytes)
            s.operations?.giveBack(operations)
            s.statistics.bytes -= min(s.statistics.bytes, bytes)
            s.statistics.operations -= min(s.statistics.operations, operations)
        }
    }

    /// Acknowledges the ``timer`` (reads it) and ends the blocked state: the consumer tries again.
    public func timerFired() {
        _ = try? timer.read()
        state.withLock { $0.blocked = false }
    }

    /// Replaces the limits at run time with full buckets of the new parameters. A consumer
    /// blocked under the old limits is woken at once (the ``timer`` fires) to try under the new.
    ///
    /// - Throws: ``RateLimiterError/invalidBucket(_:_:)``; the old limits stay.
    public func update(_ limits: RateLimits) throws(RateLimiterError) {
        let (bandwidth, operations) = try Self.buckets(limits, now: clock())
        let wasBlocked = state.withLock { s in
            s.bandwidth = bandwidth
            s.operations = operations
            s.limits = limits
            return s.blocked
        }
        if wasBlocked { try? timer.arm(after: 1) }
    }
}

/// What a ``RateLimiter`` let through and held back.
public struct RateLimiterStatistics: Sendable, Hashable {
    /// Bytes let through.
    public var bytes: UInt64 = 0
    /// Operations let through.
    public var operations: UInt64 = 0
    /// Times a request was refused (and waited for the timer).
    public var throttled: UInt64 = 0
}

/// Why a ``RateLimiter`` cannot be made or changed.
public enum RateLimiterError: Error, Hashable, Sendable {
    /// The named bucket (`bandwidth`, `operations`) has invalid parameters.
    case invalidBucket(String, TokenBucketError)
    /// Its timer could not be made.
    case timer(SystemCallError)
}
