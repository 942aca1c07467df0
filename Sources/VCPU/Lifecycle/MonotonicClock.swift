#if canImport(Glibc)
import Glibc
#endif

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of this target's timestamps (exit statistics,
/// ``ExitStatistics/lastKickExitNanoseconds``) and timed waits, and of the VCPUScheduler
/// dispatcher (`monotonicClock()` there is this function).
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
