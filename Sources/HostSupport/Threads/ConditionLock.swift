#if canImport(Glibc)
    import Glibc
#endif

/// A mutex with a condition variable protecting a value: what the vCPU thread and its owner
/// use to hand requests and state changes to each other, and what a scheduler uses to sleep
/// until an event or a time. (`Synchronization.Mutex` has no condition variable.) The
/// condition variable runs on `CLOCK_MONOTONIC`.
///
/// Its methods are inlinable so that callers in other modules (the vCPU run loop, the
/// dispatcher) get them specialised for their value type.
public final class ConditionLock<Value>: @unchecked Sendable {
    @usableFromInline let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    @usableFromInline let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    @usableFromInline var value: Value

    /// A lock around `value`.
    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the value locked and wakes every waiter afterwards.
    @inlinable
    @discardableResult
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Waits until `predicate` holds, then runs `body` with the value locked.
    @inlinable
    @discardableResult
    public func wait<R, E: Error>(until predicate: (Value) -> Bool, then body: (inout Value) throws(E) -> R) throws(E)
        -> R
    {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        while !predicate(value) { pthread_cond_wait(condition, mutex) }
        return try body(&value)
    }

    /// Calls `attempt` with the value locked and the current `CLOCK_MONOTONIC` time (ns) until
    /// it returns a result; between attempts, sleeps until woken (by any ``withLock(_:)``) or
    /// until the time `deadline` returns, if any. Wakes every waiter before returning.
    @inlinable
    public func wait<R>(for attempt: (inout Value, UInt64) -> R?, deadline: (Value) -> UInt64?) -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        while true {
            if let result = attempt(&value, monotonicNanoseconds()) { return result }
            if let time = deadline(value) {
                var ts = timespec(tv_sec: Int(time / 1_000_000_000), tv_nsec: Int(time % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &ts)
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
    }
}
