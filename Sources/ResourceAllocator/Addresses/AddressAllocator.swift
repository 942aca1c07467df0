/// An allocator of address ranges inside one space `[base, base + size)`: guest physical
/// memory, MMIO windows, port I/O.
///
/// Requests have a power-of-two alignment, a policy (``AllocationPolicy``: first-fit,
/// last-fit, best-fit or an exact address) and optionally a sub-range they must lie in.
/// Freeing a range merges it with free neighbours, so freeing everything restores one
/// free range.
///
/// ## Cost
///
/// Free ranges are kept in a treap ordered by address and, once best-fit has been used,
/// also in one ordered by (length, address); every node also records the longest request
/// its subtree could hold at alignments 1 B, 4 B, 16 B, 256 B, 4 KiB, 64 KiB, 2 MiB and
/// 1 GiB, and, from the first request at any other power-of-two alignment on, at that
/// alignment too (one extra subtree maximum per node and per such alignment, added to both
/// trees in O(n) on first use and maintained by every later update). With `n` free ranges
/// and `k` distinct alignments outside the eight classes used so far (at most 56; a VMM
/// uses a handful):
///
/// - `free`, exact allocation and all tree updates are expected O(log n) node updates,
///   each O(k) when `k > 0` (O(log² n) once the windowed index exists, see below). The
///   first best-fit request without a constraint builds the size-ordered treap
///   once, in O(n log n); the first request at a new alignment outside the classes costs
///   O(n) once.
/// - First-fit, last-fit and best-fit searches are expected O(log n) at every alignment:
///   the pruning value is exact for the requested alignment, so a subtree that passes it
///   holds a fitting range and the search never backtracks out of it (without a
///   constraint). The test suite counts visited nodes to check this.
/// - A sub-range constraint (`within:`) keeps first-fit and last-fit at O(log n) (only
///   the ranges straddling the constraint's two ends need a direct check).
/// - Best-fit with a constraint (other than the whole space) is a dynamic range-successor
///   query, which an ordered tree cannot answer in O(log n): walking the size-ordered
///   tree may visit every free range outside the constraint. It visits at most
///   O(log² n) nodes: the size-ordered walk gets a budget of 4·(log2 n)² visits, which
///   random windows stay well inside; the first request that runs over it builds a
///   two-level index, `WindowedBestFitIndex` (an address-ordered treap whose every node
///   holds a size-ordered treap of its subtree, augmented with the exact usable length at
///   each alignment constrained best-fit has used), in O(n log n), and the index answers
///   that and every later constrained best-fit in O(log² n). From then on every update
///   (allocate, free) costs expected O(log² n) instead of O(log n) — 3.5 to 30 µs from 1k
///   to 100k free ranges — and memory is O(n log n): about 1.2·n·log2(n) inner nodes
///   (measured) of 12 bytes plus 8 bytes per alignment used, e.g. 2.0 M nodes, 41 MB, at
///   100 k free ranges and one alignment. Allocators whose windows never defeat the walk
///   never build it.
/// - Every other structure is O(n): both trees hold one node per free range (plus 8 bytes
///   per node and extra alignment).
///
/// Results never depend on these costs: every policy returns what an exhaustive scan of
/// all free ranges would.
public struct AddressAllocator: Sendable {
    /// The whole space the allocator manages.
    public let space: AddressRange
    private var byStart: FreeRangeTree
    /// The size-ordered index, built on the first best-fit request (allocators that never
    /// use best-fit do not pay for it) and maintained from then on.
    private var bySize: FreeRangeTree?
    /// The index for best-fit inside a sub-range, built when the size-ordered tree first
    /// needs more than its budget for such a request, and maintained from then on (it
    /// mirrors every update of `byStart`).
    private var windowed: WindowedBestFitIndex?
    /// The budget of a constrained best-fit in the size-ordered tree, in units of
    /// (log2 n)² visits, before it hands over to the windowed index (tests set 0 to build
    /// the index on the first such request).
    var windowedIndexBudgetFactor = 4
    /// Live allocations: start -> end.
    private var allocations: [UInt64: UInt64] = [:]

    /// Creates an allocator for `[base, base + size)`, entirely free.
    public init(base: UInt64, size: UInt64) throws(AddressAllocatorError) {
        guard size > 0 else { throw .zeroSize }
        guard let space = AddressRange(start: base, size: size) else { throw .overflow }
        try self.init(space: space)
    }

    /// Creates an allocator for `space`, entirely free.
    public init(space: AddressRange) throws(AddressAllocatorError) {
        guard space.size > 0 else { throw .zeroSize }
        self.space = space
        byStart = FreeRangeTree(order: .byStart, seed: 0x9E37_79B9_7F4A_7C15 ^ space.start)
        byStart.insert(start: space.start, end: space.end)
    }

    /// The number of live allocations.
    public var allocationCount: Int { allocations.count }

    /// The number of maximal free ranges.
    public var freeRangeCount: Int { byStart.count }

    /// The free ranges in address order (O(n)).
    public var freeRanges: [AddressRange] {
        byStart.inOrder().map { AddressRange(uncheckedStart: $0.start, end: $0.end) }
    }

    /// The live allocations in address order (O(n log n)).
    public var allocatedRanges: [AddressRange] {
        allocations.sorted { $0.key < $1.key }.map { AddressRange(uncheckedStart: $0.key, end: $0.value) }
    }

    /// Whether `range` is exactly one live allocation.
    public func isAllocated(_ range: AddressRange) -> Bool {
        allocations[range.start] == range.end && range.size > 0
    }

    /// Allocates `size` addresses aligned to `alignment` (a power of two) according to
    /// `policy`, inside `constraint` when one is given.
    ///
    /// Errors are checked in this order: ``AddressAllocatorError/zeroSize``,
    /// ``AddressAllocatorError/invalidAlignment(_:)``, then for a constraint
    /// ``AddressAllocatorError/zeroSize`` (empty constraint) and
    /// ``AddressAllocatorError/outsideSpace(_:)``; for an exact address
    /// ``AddressAllocatorError/misaligned(address:alignment:)``,
    /// ``AddressAllocatorError/overflow``, ``AddressAllocatorError/outsideSpace(_:)`` (outside
    /// the space or the constraint) and ``AddressAllocatorError/overlapsAllocation(_:)``;
    /// for the fit policies ``AddressAllocatorError/outOfSpace(size:alignment:)``.
    @discardableResult
    public mutating func allocate(
        size: UInt64, alignment: UInt64 = 1, policy: AllocationPolicy = .firstFit,
        within constraint: AddressRange? = nil
    ) throws(AddressAllocatorError) -> AddressRange {
        guard size > 0 else { throw .zeroSize }
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw .invalidAlignment(alignment) }
        var lo = space.start, hi = space.end
        if let c = constraint {
            guard c.size > 0 else { throw .zeroSize }
            guard c.start >= space.start, c.end <= space.end else { throw .outsideSpace(c) }
            lo = c.start
            hi = c.end
        }
        let mask = alignment - 1
        if case .exact(let address) = policy {
            guard address & mask == 0 else { throw .misaligned(address: address, alignment: alignment) }
            guard let wanted = AddressRange(start: address, size: size) else { throw .overflow }
            guard wanted.start >= lo, wanted.end <= hi else { throw .outsideSpace(wanted) }
            guard let r = byStart.floor(address), r.end >= wanted.end else { throw .overlapsAllocation(wanted) }
            carve(start: r.start, end: r.end, address: address, size: size)
            return wanted
        }
        // A constraint equal to the whole space is no constraint.
        let inWindow = policy == .bestFit && constraint != nil && constraint != space
        if policy == .bestFit { buildSizeIndexIfNeeded() }
        let query = FreeRangeTree.Query(
            size: size, mask: mask, lo: lo, hi: hi,
            usableClass: augmentation(forShift: UInt64(alignment.trailingZeroBitCount)))
        let hit: FreeRangeTree.Hit?
        switch policy {
        case .firstFit: hit = byStart.addressOrderedFit(query, highest: false)
        case .lastFit: hit = byStart.addressOrderedFit(query, highest: true)
        case .bestFit: hit = inWindow ? bestFitInWindow(query) : bySize?.bestFit(query).hit
        case .exact: hit = nil
        }
        guard let hit else { throw .outOfSpace(size: size, alignment: alignment) }
        carve(start: hit.start, end: hit.end, address: hit.address, size: size)
        return AddressRange(uncheckedStart: hit.address, end: hit.address + size)
    }

    /// The augmentation that is exact for alignment `2^shift` in both trees, adding it (O(n),
    /// once per alignment outside the fixed classes) on first use. Both trees add extra
    /// alignments in the same order, so one index serves both.
    private mutating func augmentation(forShift shift: UInt64) -> Int {
        if let index = byStart.augmentation(forShift: shift) { return index }
        let index = byStart.addExactAlignment(shift: shift)
        bySize?.addExactAlignment(shift: shift)
        return index
    }

    /// Nodes visited by fit searches so far, all indexes together (for tests).
    var searchVisits: Int {
        byStart.searchVisits + (bySize?.searchVisits ?? 0) + (windowed?.searchVisits ?? 0)
    }

    /// Inner nodes of the windowed best-fit index (0 before it is built; for tests).
    var windowedIndexNodeCount: Int { windowed?.innerNodeCount ?? 0 }

    /// Builds the size-ordered index from the address-ordered tree (O(n log n), once).
    private mutating func buildSizeIndexIfNeeded() {
        guard bySize == nil else { return }
        var tree = FreeRangeTree(order: .bySize, seed: 0xD1B5_4A32_D192_ED03 ^ space.size)
        for shift in byStart.extraShifts { tree.addExactAlignment(shift: shift) }
        for r in byStart.inOrder() { tree.insert(start: r.start, end: r.end) }
        bySize = tree
    }

    /// Best-fit inside a sub-range. Until the windowed index exists, the size-ordered tree
    /// answers within a budget of ``windowedIndexBudgetFactor`` · (log2 n)² visits; the first
    /// search that runs over it builds the index (O(n log n), once), which answers this and
    /// every later request in O(log² n).
    private mutating func bestFitInWindow(_ query: FreeRangeTree.Query) -> FreeRangeTree.Hit? {
        if windowed == nil {
            let log = Int.bitWidth - byStart.count.leadingZeroBitCount
            switch bySize?.bestFit(query, budget: windowedIndexBudgetFactor * log * log) {
            case .found(let hit)?: return hit
            case .notFound?, nil: return nil
            case .overBudget?:
                windowed = WindowedBestFitIndex(sorted: byStart.inOrder(), seed: 0xA076_1D64_78BD_642F ^ space.start)
            }
        }
        return windowed?.bestFit(query)
    }

    // Updates of the address-ordered indexes (the tree and, once built, the windowed index).

    private mutating func insertByStart(start: UInt64, end: UInt64) {
        byStart.insert(start: start, end: end)
        windowed?.insert(start: start, end: end)
    }

    private mutating func replaceByStart(oldStart: UInt64, start: UInt64, end: UInt64) {
        byStart.replace(oldStart: oldStart, start: start, end: end)
        windowed?.replace(oldStart: oldStart, start: start, end: end)
    }

    private mutating func removeByStart(start: UInt64, end: UInt64) {
        byStart.remove(start: start, end: end)
        windowed?.remove(start: start)
    }

    /// Takes `[address, address + size)` out of the free range `[start, end)`.
    private mutating func carve(start: UInt64, end: UInt64, address: UInt64, size: UInt64) {
        let allocEnd = address + size
        let hasLeft = address > start, hasRight = allocEnd < end
        if hasLeft {
            replaceByStart(oldStart: start, start: start, end: address)
            if hasRight { insertByStart(start: allocEnd, end: end) }
        } else if hasRight {
            replaceByStart(oldStart: start, start: allocEnd, end: end)
        } else {
            removeByStart(start: start, end: end)
        }
        bySize?.remove(start: start, end: end)
        if hasLeft { bySize?.insert(start: start, end: address) }
        if hasRight { bySize?.insert(start: allocEnd, end: end) }
        allocations[address] = allocEnd
    }

    /// Frees `range`, which must be exactly one live allocation, merging it with free
    /// neighbours.
    public mutating func free(_ range: AddressRange) throws(AddressAllocatorError) {
        guard range.size > 0, allocations[range.start] == range.end else { throw .notAllocated(range) }
        allocations[range.start] = nil
        var start = range.start, end = range.end
        let before = start > space.start ? byStart.floor(start - 1) : nil
        let after = byStart.ceiling(end)
        let left = before.flatMap { $0.end == start ? $0 : nil }
        let right = after.flatMap { $0.start == end ? $0 : nil }
        switch (left, right) {
        case let (l?, r?):
            removeByStart(start: r.start, end: r.end)
            replaceByStart(oldStart: l.start, start: l.start, end: r.end)
            bySize?.remove(start: l.start, end: l.end)
            bySize?.remove(start: r.start, end: r.end)
            start = l.start
            end = r.end
        case let (l?, nil):
            replaceByStart(oldStart: l.start, start: l.start, end: end)
            bySize?.remove(start: l.start, end: l.end)
            start = l.start
        case let (nil, r?):
            replaceByStart(oldStart: r.start, start: start, end: r.end)
            bySize?.remove(start: r.start, end: r.end)
            end = r.end
        case (nil, nil):
            insertByStart(start: start, end: end)
        }
        bySize?.insert(start: start, end: end)
    }
}
