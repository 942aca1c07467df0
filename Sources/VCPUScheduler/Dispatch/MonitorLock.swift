#if canImport(Glibc)
import Glibc
#endif

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of the real dispatcher.
@inline(__always)
public func monotonicClock() -> Nanoseconds {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Nanoseconds(ts.tv_sec) &* 1_000_000_000 &+ Nanoseconds(ts.tv_nsec)
}

/// A value behind a pthread mutex with a `CLOCK_MONOTONIC` condition variable, and waits with a
/// deadline: what the dispatcher's workers and a gated vCPU's slice use to sleep until an
/// event or a time. (`Synchronization.Mutex` has no condition variable; the `VCPU` target's
/// lock has no timed wait.)
final class MonitorLock<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
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

    /// Runs `body` with the value locked, then wakes every waiter.
    @discardableResult
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return body(&value)
    }

    /// Calls `attempt` with the value locked and the current time until it returns a result;
    /// between attempts, sleeps until woken (by any ``withLock(_:)``) or until the time
    /// `deadline` returns, if any. Wakes every waiter before returning.
    func wait<R>(
        for attempt: (inout Value, Nanoseconds) -> R?, deadline: (Value) -> Nanoseconds?
    ) -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        while true {
            if let result = attempt(&value, monotonicClock()) { return result }
            if let time = deadline(value) {
                var ts = timespec(tv_sec: Int(time / 1_000_000_000), tv_nsec: Int(time % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &ts)
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
    }
}
