import Testing

@testable import HostPlacement
@testable import ResourceAllocator

/// Runs `operations` random allocate/free calls on the real allocator and the naive model
/// and requires identical outcomes, plus the allocator's own invariants.
///
/// Sizes are `1 + random % 512` (or `% 16384`) units and alignments `2^(0...13)` units
/// (`2^(0...18)` with `pages`),
/// where a unit is 1 byte or, with `pages`, 4 KiB (so alignments reach the tree's 64 KiB,
/// 2 MiB and 1 GiB classes and the ones between them).
///
/// With `misfitHoles`, the space first gets that many pinned free holes of 2 units that
/// start 1 unit past a 2-unit boundary (held open by exact allocations on both sides,
/// freed only at the end), and alignments are drawn from `alignmentShifts` (in units):
/// pass shifts outside the tree's fixed classes to exercise the per-alignment
/// augmentations with many holes that look long enough under a coarser class.
///
/// With `windowedBestFit`, three requests in four are best-fit inside a random sub-range
/// whose width is the space's size divided by a random power of two (down to 1/4096), so
/// windows run from nearly the whole space to a handful of free ranges.
/// Returns the step at which the windowed best-fit index was built, if it was.
@discardableResult
private func runDifferential(
    space: AddressRange, operations: Int, seed: UInt64, pages: Bool = false,
    misfitHoles: Int = 0, alignmentShifts: [UInt64]? = nil,
    windowedBestFit: Bool = false, windowedIndexBudgetFactor: Int = 4
) throws -> Int? {
    let unit: UInt64 = pages ? 4096 : 1
    var rng = SeededGenerator(seed: seed)
    var real = try AddressAllocator(space: space)
    real.windowedIndexBudgetFactor = windowedIndexBudgetFactor
    var model = NaiveAddressAllocator(space: space)
    var live: [AddressRange] = []
    var pinned: [AddressRange] = []
    for i in 0..<UInt64(misfitHoles) {
        for offset: UInt64 in [0, 3] {
            let policy = AllocationPolicy.exact(space.start + (4 * i + offset) * unit)
            let expected = model.allocate(size: unit, alignment: 1, policy: policy, within: nil)
            let actual = try real.allocate(size: unit, policy: policy)
            try #require(expected == .success(actual))
            pinned.append(actual)
        }
    }
    let policies: [AllocationPolicy] = [.firstFit, .lastFit, .bestFit]
    var successes = 0
    var indexBuiltAtStep: Int?

    for step in 0..<operations {
        // Keep roughly 50-250 live allocations so the naive model stays cheap.
        let target = 50 + (step / 5000 % 5) * 50
        let allocateNow = live.isEmpty || (live.count < target ? rng.next() % 10 < 7 : rng.next() % 10 < 3)
        if allocateNow {
            let size = unit * (1 + rng.next() % (rng.next() % 4 == 0 ? 16384 : 512))
            let shift = alignmentShifts.map { $0[Int(rng.next() % UInt64($0.count))] } ?? rng.next() % (pages ? 19 : 14)
            let alignment: UInt64 = unit << shift
            var policy = policies[Int(rng.next() % 3)]
            if rng.next() % 16 == 0 {
                policy = .exact(space.start + (rng.next() % space.size) & ~(alignment - 1))
            }
            var constraint: AddressRange?
            if windowedBestFit && rng.next() % 4 != 0 {
                policy = .bestFit
                let width = max(1, space.size >> (rng.next() % 13))
                constraint = AddressRange(start: space.start + rng.next() % (space.size - width + 1), size: width)
            } else if rng.next() % 8 == 0 {
                let a = space.start + rng.next() % space.size
                let b = space.start + rng.next() % space.size
                constraint = AddressRange(start: min(a, b), size: max(a, b) - min(a, b) + 1)
            }
            let expected = model.allocate(size: size, alignment: alignment, policy: policy, within: constraint)
            let actual: Result<AddressRange, AddressAllocatorError>
            do {
                actual = .success(
                    try real.allocate(size: size, alignment: alignment, policy: policy, within: constraint))
            } catch { actual = .failure(error) }
            try #require(
                actual == expected,
                "step \(step): \(policy) size \(size) align \(alignment) within \(String(describing: constraint))")
            if let r = actual.address {
                try #require(r.start % alignment == 0 && r.size == size)
                if let c = constraint { try #require(r.start >= c.start && r.end <= c.end) }
                live.append(r)
                successes += 1
            }
        } else if rng.next() % 20 == 0 {
            // Free something that is not a live allocation: a random range, or a double free.
            let bogus = AddressRange(start: space.start + rng.next() % space.size, size: 1 + rng.next() % 64)!
            if !real.isAllocated(bogus) {
                var actual: AddressAllocatorError?
                do { try real.free(bogus) } catch { actual = error }
                try #require(actual == .notAllocated(bogus))
                try #require(model.free(bogus) == .notAllocated(bogus))
            }
        } else {
            let r = live.remove(at: Int(rng.next() % UInt64(live.count)))
            try real.free(r)
            try #require(model.free(r) == nil)
        }
        if indexBuiltAtStep == nil, real.windowedIndexNodeCount > 0 { indexBuiltAtStep = step }
        if step % 997 == 0 {
            let free = real.freeRanges
            try #require(free.map { [$0.start, $0.end] } == model.free.map { [$0.start, $0.end] })
            // No overlaps among live allocations, and none with free space.
            let allocated = real.allocatedRanges
            try #require(allocated.count == live.count + pinned.count)
            for (a, b) in zip(allocated, allocated.dropFirst()) { try #require(a.end <= b.start) }
            let total = allocated.reduce(0) { $0 + $1.size } + free.reduce(0) { $0 + $1.size }
            try #require(total == space.size)
        }
    }
    #expect(successes > operations / 3)
    // Freeing everything restores a single free range covering the space.
    for r in live + pinned { try real.free(r) }
    #expect(real.freeRanges == [space])
    #expect(real.allocationCount == 0)
    return indexBuiltAtStep
}

@Suite struct AddressAllocatorDifferentialTests {
    @Test func lowSpace() throws {
        try runDifferential(space: AddressRange(start: 0x1000, size: 1 << 20)!, operations: 60_000, seed: 1)
    }

    @Test func spaceAtTheTopOfTheAddressRange() throws {
        // Ends one byte below UInt64.max, so alignment arithmetic sits next to overflow.
        let size: UInt64 = 1 << 20
        try runDifferential(space: AddressRange(start: UInt64.max - size, size: size)!, operations: 50_000, seed: 2)
    }

    @Test func pageGranularSpaceWithLargeAlignments() throws {
        // 4 GiB at 4 GiB: alignments 4 KiB ... 1 GiB.
        try runDifferential(
            space: AddressRange(start: 1 << 32, size: 1 << 32)!, operations: 30_000, seed: 3, pages: true)
    }

    @Test func alignmentsOutsideTheClassesWithManyMisfittingHoles() throws {
        // 4 KiB units; 600 pinned 8 KiB holes at odd 4 KiB boundaries; alignments 8 KiB,
        // 32 KiB, 128 KiB, 1 MiB, 4 MiB (none is a fixed class) and 4 KiB, 64 KiB.
        try runDifferential(
            space: AddressRange(start: 1 << 32, size: 1 << 32)!, operations: 20_000, seed: 4,
            pages: true, misfitHoles: 600, alignmentShifts: [1, 3, 5, 8, 10, 0, 4])
    }

    @Test func bestFitInsideRandomWindows() throws {
        // The windowed index from the first request on.
        try runDifferential(
            space: AddressRange(start: 0x1000, size: 1 << 20)!, operations: 30_000, seed: 6,
            windowedBestFit: true, windowedIndexBudgetFactor: 0)
    }

    @Test func bestFitInsideRandomWindowsWithTheBudgetedWalkFirst() throws {
        // The size-ordered walk answers until a request runs over its budget, then the index
        // is built from the state at that moment and answers from then on. At the default
        // budget (4) no request of this run goes over it; at 2, one does, part way through.
        let built = try runDifferential(
            space: AddressRange(start: 0x1000, size: 1 << 20)!, operations: 20_000, seed: 8,
            windowedBestFit: true, windowedIndexBudgetFactor: 2)
        let step = try #require(built, "no request ran over the budget: the hand-over was not exercised")
        #expect(step > 1000, "the index was built at step \(step): the budgeted walk was hardly exercised")
    }

    @Test func bestFitInsideRandomWindowsAtAlignmentsOutsideTheClasses() throws {
        // Pinned misfitting holes; alignments (4 KiB units) drawn at random, so those
        // outside the classes get their column in a windowed index that already exists.
        try runDifferential(
            space: AddressRange(start: 1 << 32, size: 1 << 32)!, operations: 25_000, seed: 7,
            pages: true, misfitHoles: 400, alignmentShifts: [0, 0, 0, 1, 3, 4, 5, 9],
            windowedBestFit: true, windowedIndexBudgetFactor: 0)
    }

    @Test func byteAlignmentsOutsideTheClassesWithManyMisfittingHoles() throws {
        // 1-byte units: 2-byte holes at odd addresses; alignments 2, 8, 32, 128, 4 KiB (class), 8 KiB.
        try runDifferential(
            space: AddressRange(start: 0x1000, size: 1 << 20)!, operations: 20_000, seed: 5,
            misfitHoles: 600, alignmentShifts: [1, 3, 5, 7, 12, 13])
    }
}
