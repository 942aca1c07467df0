#if canImport(Glibc)
    import Glibc
#endif

/// `CLOCK_MONOTONIC` in nanoseconds: the package's one clock.
///
/// It stamps vCPU exits and kicks, times the condition lock's waits, drives the vCPU
/// dispatcher's slices and the benchmarks' timers, so every timestamp the package reports can
/// be compared with every other.
@inlinable
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
