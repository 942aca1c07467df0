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

    static func visits(
        _ a: inout AddressAllocator, _ policy: AllocationPolicy, alignment: UInt64,
        expect address: UInt64
    ) throws -> Int {
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

    // MARK: Best-fit inside a sub-range

    /// The adversarial case for a best-fit that walks the size-ordered tree: `m` free
    /// ranges below the window, 1 GiB-aligned (they would fit), and `m` inside it that
    /// start 4 KiB past a 1 GiB boundary (they do not fit at 1 GiB alignment), with lengths
    /// interleaved in size order (inside 1, 3, 5, ... pages, outside 2, 4, 6, ...), so no
    /// subtree of that tree lies wholly outside the window or holds no fitting range; plus
    /// the one range that fits, longest of all, at the top of the window. A walk in size
    /// order visits every range below the window (about `n / 2`).
    static func interleaved(m: Int) throws -> (AddressAllocator, window: AddressRange, fit: UInt64) {
        let gib: UInt64 = 1 << 30, page: UInt64 = 4096, m = UInt64(m)
        var free: [(start: UInt64, size: UInt64)] = []
        for i in 0..<m { free.append((i * gib, (2 * i + 2) * page)) }
        for i in 0..<m { free.append(((m + i) * gib + page, (2 * i + 1) * page)) }
        free.append((2 * m * gib, (2 * m + 3) * page))
        var a = try AddressAllocator(base: 0, size: (2 * m + 2) * gib)
        // Allocate the gaps between the free ranges.
        var cursor: UInt64 = 0
        for r in free + [((2 * m + 2) * gib, 0)] {
            if r.start > cursor { try a.allocate(size: r.start - cursor, policy: .exact(cursor)) }
            cursor = r.start + r.size
        }
        #expect(a.freeRangeCount == free.count)
        return (a, AddressRange(start: m * gib, size: (m + 1) * gib)!, 2 * m * gib)
    }

    /// Visits of the first best-fit for a page at 1 GiB alignment inside the window (the
    /// size-ordered tree gives up at its budget and the request builds the windowed index;
    /// building is not a search and is not counted), and the most of later ones.
    static func windowedVisits(m: Int) throws -> (first: Int, visits: Int, n: Int) {
        var (a, window, fit) = try interleaved(m: m)
        let n = a.freeRangeCount
        let before = a.searchVisits
        #expect(a.windowedIndexNodeCount == 0)
        let r = try a.allocate(size: 4096, alignment: 1 << 30, policy: .bestFit, within: window)
        #expect(r.start == fit)
        #expect(a.windowedIndexNodeCount > 0, "the walk in size order should have run over its budget")
        let first = a.searchVisits - before
        try a.free(r)
        // Once built the index is maintained: churn inside the window, then search again.
        for i in stride(from: 0, to: UInt64(m), by: 5) {
            let s = (UInt64(m) + i) * (1 << 30) + 4096
            try a.free(try a.allocate(size: 4096, policy: .exact(s)))
        }
        let again = a.searchVisits
        #expect(try a.allocate(size: 4096, alignment: 1 << 30, policy: .bestFit, within: window).start == fit)
        // At 4 KiB every range fits: the answer is the shortest inside, and every canonical
        // subtree holds candidates.
        let third = a.searchVisits
        #expect(
            try a.allocate(size: 4096, alignment: 4096, policy: .bestFit, within: window).start == window.start + 4096)
        return (first, max(third - again, a.searchVisits - third), n)
    }

    static func log2(_ n: Int) -> Int { Int.bitWidth - n.leadingZeroBitCount }

    @Test func bestFitInsideAWindowIsPolylogarithmic() throws {
        let (first, v, n) = try Self.windowedVisits(m: Self.holes / 2)
        let bound = 4 * Self.log2(n) * Self.log2(n)
        // The first request pays the size-ordered walk up to its budget, then the index.
        #expect(first <= 2 * bound + Self.log2(n) * 4, "first request visited \(first) nodes for \(n) free ranges")
        #expect(v <= bound, "visited \(v) nodes for \(n) free ranges (bound \(bound))")
    }

    @Test func bestFitInsideAWindowGrowsPolylogarithmically() throws {
        let (_, small, n1) = try Self.windowedVisits(m: 512)
        let (firstLarge, large, n64) = try Self.windowedVisits(m: 32 << 10)
        #expect(firstLarge <= 8 * Self.log2(n64) * Self.log2(n64) + 4 * Self.log2(n64))
        // 64 times the ranges: (log n)² grows about 2.6 times; a linear walk 64 times.
        let ratio = Double(large) / Double(small)
        let polylog = Double(Self.log2(n64) * Self.log2(n64)) / Double(Self.log2(n1) * Self.log2(n1))
        #expect(ratio <= 2 * polylog, "\(small) visits at n = \(n1), \(large) at n = \(n64)")
        #expect(large <= 4 * Self.log2(n64) * Self.log2(n64))
    }
}
