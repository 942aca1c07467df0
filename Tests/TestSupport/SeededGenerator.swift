import HostSupport

/// The tests' deterministic generator, so every randomised test is reproducible from its seed:
/// HostSupport's `SplitMix64` (one implementation for the library and the tests).
public typealias SeededGenerator = SplitMix64
