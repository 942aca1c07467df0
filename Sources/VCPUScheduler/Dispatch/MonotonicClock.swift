import VCPU

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of the real dispatcher — the `VCPU` target's
/// `monotonicNanoseconds()`, which also stamps its exits and times its waits.
@inline(__always)
public func monotonicClock() -> Nanoseconds { monotonicNanoseconds() }
