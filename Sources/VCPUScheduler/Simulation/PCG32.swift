/// PCG-XSH-RR 64/32 (O'Neill 2014): a small seeded generator, so synthetic workloads are the
/// same on every run and every platform (the standard library's generator is not seedable).
public struct PCG32: RandomNumberGenerator, Sendable {
    private var state: UInt64
    private let increment: UInt64

    /// A generator for `seed` on stream `stream` (different streams give independent
    /// sequences for the same seed; the simulator uses one stream per vCPU).
    public init(seed: UInt64, stream: UInt64 = 0) {
        increment = (stream << 1) | 1
        state = 0
        _ = next32()
        state &+= seed
        _ = next32()
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        let old = state
        state = old &* 6364136223846793005 &+ increment
        let xorshifted = UInt32(truncatingIfNeeded: ((old >> 18) ^ old) >> 27)
        let rotation = UInt32(truncatingIfNeeded: old >> 59)
        return xorshifted.rotateRight(by: rotation)
    }

    /// The next 64 random bits (two 32-bit outputs).
    public mutating func next() -> UInt64 {
        UInt64(next32()) << 32 | UInt64(next32())
    }

    /// A value in `range` (by modulo reduction: deterministic, with a bias negligible for
    /// ranges far below 2^64).
    public mutating func next(in range: ClosedRange<UInt64>) -> UInt64 {
        let span = range.upperBound - range.lowerBound
        return span == .max ? next() : range.lowerBound + next() % (span + 1)
    }
}

extension UInt32 {
    fileprivate func rotateRight(by r: UInt32) -> UInt32 {
        let s = r & 31
        return s == 0 ? self : (self >> s) | (self << (32 - s))
    }
}
