import HostSupport
import Testing

/// SplitMix64 produces the reference algorithm's sequence (Steele, Lea and Flood; the values
/// below come from an independent implementation of the published algorithm), and streams of
/// one seed differ.
@Suite struct SplitMix64Tests {
    @Test func matchesTheReferenceSequence() {
        var generator = SplitMix64(seed: 1_234_567)
        #expect(generator.next() == 6_457_827_717_110_365_317)
        #expect(generator.next() == 3_203_168_211_198_807_973)
        #expect(generator.next() == 9_817_491_932_198_370_423)
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 16_294_208_416_658_607_535)
        #expect(zero.next() == 7_960_286_522_194_355_700)
    }

    @Test func streamsOfOneSeedDiffer() {
        var a = SplitMix64(seed: 9, stream: 0)
        var b = SplitMix64(seed: 9, stream: 1)
        var c = SplitMix64(seed: 9, stream: 1)
        let first = (0..<8).map { _ in a.next() }
        let second = (0..<8).map { _ in b.next() }
        #expect(first != second)
        #expect(second == (0..<8).map { _ in c.next() }, "a stream is reproducible")
    }
}
