/// SplitMix64 (Steele, Lea and Flood): a small, fast, seedable random number generator.
///
/// The package's one seeded generator (the standard library's is not seedable): the allocator
/// trees draw treap priorities from it so their shape, and therefore their cost, is
/// reproducible; the scheduling simulator draws synthetic workloads from it, one stream per
/// vCPU; tests and fuzzers draw reproducible inputs from it. Inlinable, so callers in other
/// modules (the allocator's hot paths) pay no call per number.
@frozen
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    @inlinable
    public init(seed: UInt64) { state = seed }

    /// A generator for `seed` on stream `stream`: different streams give unrelated sequences
    /// for the same seed (the stream number is itself scrambled into the starting state).
    @inlinable
    public init(seed: UInt64, stream: UInt64) {
        var scramble = SplitMix64(seed: stream)
        state = seed ^ scramble.next()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
