import Testing
@testable import ResourceAllocator

/// Fit searches at alignments outside the fixed classes must stay logarithmic when many
/// free ranges look long enough under the nearest smaller class but do not fit once
/// aligned. Each space holds `holes` free ranges of 8 KiB starting 4 KiB past an 8 KiB
/// boundary (so an 8 KiB request aligned to 8 KiB fits in none of them, while the 4 KiB
/// class says it might), and one 64 KiB free range that fits, at the far end for the
/// search. Before exact per-alignment augmentations a search visited every misfitting
/// hole; these tests count visited tree nodes and require a logarithmic bound.
@Suite struct AddressAllocatorCostTests {
    static let holes = 4096
    static let period: UInt64 = 16 << 10

    /// `[0, 64 KiB)` free at the bottom (`fitAtBottom`) or top, then `holes` periods of
    /// 4 KiB allocated, 8 KiB free, 4 KiB allocated.
    static func fragmented(fitAtBottom: Bool) throws -> (AddressAllocator, fit: UInt64) {
        let tail: UInt64 = 64 << 10
        let base: UInt64 = fitAtBottom ? tail : 0
        var a = try AddressAllocator(base: 0, size: UInt64(holes) * period + tail)
        for i in 0..<UInt64(holes) {
            try a.allocate(size: 4096, policy: .exact(base + i * period))
            try a.allocate(size: 4096, policy: .exact(base + i * period + 12 << 10))
        }
        #expect(a.freeRangeCount == holes + 1)
        return (a, fitAtBottom ? 0 : UInt64(holes) * period)
    }

    /// A generous logarithmic bound on the nodes one search may visit: treap depth is
    /// about 1.4·log2(n) on average, and a search walks at most a few root paths.
    static var bound: Int { 12 * (Int.bitWidth - (Self.holes + 1).leadingZeroBitCount) }

    static func visits(_ a: inout AddressAllocator, _ policy: AllocationPolicy, alignment: UInt64,
                       expect address: UInt64) throws -> Int {
        let before = a.searchVisits
        let r = try a.allocate(size: 8 << 10, alignment: alignment, policy: policy)
        #expect(r.start == address, "\(policy) at alignment \(alignment)")
        try a.free(r)
        return a.searchVisits - before
    }

    @Test(arguments: [UInt64(8) << 10, 32 << 10])
    func firstFitOutsideTheClasses(alignment: UInt64) throws {
        var (a, fit) = try Self.fragmented(fitAtBottom: false)
        let v = try Self.visits(&a, .firstFit, alignment: alignment, expect: fit)
        #expect(v <= Self.bound, "visited \(v) nodes for \(Self.holes) misfitting holes")
    }

    @Test(arguments: [UInt64(8) << 10, 32 << 10])
    func lastFitOutsideTheClasses(alignment: UInt64) throws {
        var (a, fit) = try Self.fragmented(fitAtBottom: true)
        // Highest aligned address in [0, 64 KiB) that holds 8 KiB.
        let v = try Self.visits(&a, .lastFit, alignment: alignment, expect: fit + (56 << 10) & ~(alignment - 1))
        #expect(v <= Self.bound, "visited \(v) nodes for \(Self.holes) misfitting holes")
    }

    @Test(arguments: [UInt64(8) << 10, 32 << 10])
    func bestFitOutsideTheClasses(alignment: UInt64) throws {
        // In size order all 8 KiB holes come before the 64 KiB range that fits.
        var (a, fit) = try Self.fragmented(fitAtBottom: false)
        let v = try Self.visits(&a, .bestFit, alignment: alignment, expect: fit)
        #expect(v <= Self.bound, "visited \(v) nodes for \(Self.holes) misfitting holes")
        // The augmentation is maintained by later updates: search again after churn.
        for i in stride(from: 0, to: UInt64(Self.holes), by: 7) {
            let r = try a.allocate(size: 4096, policy: .exact(i * Self.period + 8 << 10))
            try a.free(r)
        }
        let again = try Self.visits(&a, .bestFit, alignment: alignment, expect: fit)
        #expect(again <= Self.bound, "visited \(again) nodes after churn")
    }
}
