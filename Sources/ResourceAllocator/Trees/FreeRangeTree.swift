import HostSupport

/// A treap of disjoint free ranges `[start, end)`, ordered either by start address or by
/// (length, start), with every node augmented by the ``UsableLengths`` maximum of its
/// subtree. Nodes live in one array and refer to each other by index, so the tree is a
/// value type with no reference counting on its hot paths.
///
/// Alignments outside the eight fixed classes get an exact augmentation of their own on
/// first use (``addExactAlignment(shift:)``): one more subtree maximum per node, kept in
/// the flat `extraUsable` array (stride `extraShifts.count`) and maintained by `update`
/// like the fixed ones. So every fit search prunes with the exact usable length of the
/// requested alignment.
///
/// Insert, remove, lookups and the fit searches all run in expected O(log n) (treap
/// depth). ``bestFit(_:budget:)`` honours a constraint exactly but can visit many ranges
/// outside it (those interleaved in size order with the ones inside), so
/// ``AddressAllocator`` gives it a budget for constrained requests and hands over to
/// ``WindowedBestFitIndex`` (O(log² n)) the first time a request runs over it.
struct FreeRangeTree {
    enum Order { case byStart, bySize }

    struct Node {
        var start: UInt64
        var end: UInt64
        var left: Int32
        var right: Int32
        var priority: UInt32
        var usable: UsableLengths
        /// Lowest start and highest end in the subtree (prunes constrained best-fit).
        var minStart: UInt64
        var maxEnd: UInt64
    }

    /// A fit search: size, alignment mask, constraint `[lo, hi)` and the pruning class.
    struct Query {
        var size: UInt64
        var mask: UInt64
        var lo: UInt64
        var hi: UInt64
        /// Index of the augmentation to prune with: `0..<UsableLengths.classCount` for a
        /// fixed class, `UsableLengths.classCount + j` for `extraShifts[j]`. Always exact
        /// for the query's alignment (see ``FreeRangeTree/augmentation(forShift:)``).
        var usableClass: Int
    }

    /// A free range chosen by a search and the aligned address inside it.
    struct Hit: Equatable {
        var start: UInt64
        var end: UInt64
        var address: UInt64
    }

    let order: Order
    private(set) var nodes: [Node] = []
    private var freeSlots: [Int32] = []
    private(set) var root: Int32 = -1
    private(set) var count = 0
    private var rng: SplitMix64
    /// log2 of the alignments outside the fixed classes that have an exact augmentation,
    /// in the order they were added.
    private(set) var extraShifts: [UInt64] = []
    /// `extraShifts.count`, kept as a scalar so the hot paths test it with one load.
    private var extraCount = 0
    /// Per node slot, the subtree maximum of the usable length at each of `extraShifts`
    /// (slot `i`, shift `j` at `i * extraShifts.count + j`).
    private var extraUsable: [UInt64] = []
    /// Nodes visited by the fit searches since the tree was created (cost accounting for
    /// tests; one add per visit).
    private(set) var searchVisits = 0

    init(order: Order, seed: UInt64) {
        self.order = order
        self.rng = SplitMix64(seed: seed)
    }

    // MARK: Node storage

    /// Deterministic priorities, so the tree shape is reproducible.
    private mutating func nextPriority() -> UInt32 {
        UInt32(truncatingIfNeeded: rng.next() >> 32)
    }

    private mutating func makeNode(start: UInt64, end: UInt64) -> Int32 {
        let node = Node(
            start: start, end: end, left: -1, right: -1, priority: nextPriority(),
            usable: UsableLengths(start: start, end: end), minStart: start, maxEnd: end)
        count += 1
        let slot = placeNode(node, in: &nodes, reusing: &freeSlots).slot
        if extraCount > 0 { initExtra(slot) }
        return slot
    }

    /// Sets the extra usable lengths of a new leaf node (growing the side array if needed).
    @inline(never)
    private mutating func initExtra(_ slot: Int32) {
        let k = extraCount, n = nodes[Int(slot)]
        if extraUsable.count < nodes.count * k {
            extraUsable.append(contentsOf: repeatElement(0, count: nodes.count * k - extraUsable.count))
        }
        for j in 0..<k {
            extraUsable[Int(slot) * k + j] = UsableLengths.usable(start: n.start, end: n.end, shift: extraShifts[j])
        }
    }

    private mutating func release(_ t: Int32) {
        count -= 1
        freeSlots.append(t)
    }

    @inline(__always)
    mutating func augment(_ t: Int32) {
        let n = nodes[Int(t)]
        var u = UsableLengths(start: n.start, end: n.end)
        var minStart = n.start, maxEnd = n.end
        if n.left >= 0 {
            let l = nodes[Int(n.left)]
            u.formMax(l.usable)
            minStart = Swift.min(minStart, l.minStart)
            maxEnd = Swift.max(maxEnd, l.maxEnd)
        }
        if n.right >= 0 {
            let r = nodes[Int(n.right)]
            u.formMax(r.usable)
            minStart = Swift.min(minStart, r.minStart)
            maxEnd = Swift.max(maxEnd, r.maxEnd)
        }
        nodes[Int(t)].usable = u
        nodes[Int(t)].minStart = minStart
        nodes[Int(t)].maxEnd = maxEnd
        if extraCount > 0 { updateExtra(t) }
    }

    @inline(never)
    private mutating func updateExtra(_ t: Int32) {
        let n = nodes[Int(t)], k = extraCount
        for j in 0..<k {
            var v = UsableLengths.usable(start: n.start, end: n.end, shift: extraShifts[j])
            if n.left >= 0 { v = Swift.max(v, extraUsable[Int(n.left) * k + j]) }
            if n.right >= 0 { v = Swift.max(v, extraUsable[Int(n.right) * k + j]) }
            extraUsable[Int(t) * k + j] = v
        }
    }

    // MARK: Alignment augmentations

    /// The augmentation index that is exact for alignment `2^shift`, or nil when the
    /// alignment is outside the fixed classes and has no augmentation yet.
    func augmentation(forShift shift: UInt64) -> Int? {
        let fixed = UsableLengths.boundingClass(forShift: shift)
        if fixed.exact { return fixed.index }
        return extraShifts.firstIndex(of: shift).map { UsableLengths.classCount + $0 }
    }

    /// Adds an exact augmentation for alignment `2^shift` (outside the fixed classes, not
    /// yet added) and returns its index. O(n) once; from then on every insert, remove and
    /// rotation maintains it at O(1) extra per touched node.
    @discardableResult
    mutating func addExactAlignment(shift: UInt64) -> Int {
        let old = extraShifts.count
        extraUsable = addingColumn(to: extraUsable, rows: nodes.count, columns: old)
        extraShifts.append(shift)
        extraCount = old + 1
        augmentAll(from: root)
        return UsableLengths.classCount + old
    }

    /// The subtree maximum of augmentation `index` at node `t`.
    @inline(__always)
    private func usable(_ t: Int32, _ index: Int) -> UInt64 {
        if index < UsableLengths.classCount { return nodes[Int(t)].usable[index] }
        return extraUsable[Int(t) * extraCount + index - UsableLengths.classCount]
    }

    // MARK: Ordering

    /// Whether key `(start, end)` orders before node `t`.
    @inline(__always)
    private func precedes(_ start: UInt64, _ end: UInt64, _ t: Int32) -> Bool {
        let n = nodes[Int(t)]
        switch order {
        case .byStart:
            return start < n.start
        case .bySize:
            return sizeOrderPrecedes(length: end &- start, start: start, n.end &- n.start, n.start)
        }
    }

    // MARK: Insert / remove

    /// Inserts the free range `[start, end)`; it must not overlap any range in the tree.
    mutating func insert(start: UInt64, end: UInt64) {
        let x = makeNode(start: start, end: end)
        root = insert(x, into: root, key: (start, end))
    }

    /// Removes the range `[start, end)`, which must be in the tree. Returns whether it was.
    @discardableResult
    mutating func remove(start: UInt64, end: UInt64) -> Bool {
        var found = false
        root = remove(start: start, end: end, from: root, found: &found)
        return found
    }

    private mutating func remove(start: UInt64, end: UInt64, from t: Int32, found: inout Bool) -> Int32 {
        if t < 0 { return -1 }
        let n = nodes[Int(t)]
        if n.start == start && n.end == end {
            found = true
            let m = merge(n.left, n.right)
            release(t)
            return m
        }
        if precedes(start, end, t) {
            let child = remove(start: start, end: end, from: n.left, found: &found)
            nodes[Int(t)].left = child
        } else {
            let child = remove(start: start, end: end, from: n.right, found: &found)
            nodes[Int(t)].right = child
        }
        if found { augment(t) }
        return t
    }

    /// In a start-ordered tree, replaces the range starting at `oldStart` by
    /// `[start, end)` in place. The new range must keep its position in address order
    /// (it lies between the same neighbours), which holds when a range shrinks or grows
    /// into adjacent space that no other free range holds.
    mutating func replace(oldStart: UInt64, start: UInt64, end: UInt64) {
        replace(oldStart: oldStart, start: start, end: end, in: root)
    }

    @discardableResult
    private mutating func replace(oldStart: UInt64, start: UInt64, end: UInt64, in t: Int32) -> Bool {
        if t < 0 { return false }
        let n = nodes[Int(t)]
        let found: Bool
        if n.start == oldStart {
            nodes[Int(t)].start = start
            nodes[Int(t)].end = end
            found = true
        } else if oldStart < n.start {
            found = replace(oldStart: oldStart, start: start, end: end, in: n.left)
        } else {
            found = replace(oldStart: oldStart, start: start, end: end, in: n.right)
        }
        if found { augment(t) }
        return found
    }

    // MARK: Lookups (start-ordered tree)

    /// The range with the largest start `<= address`.
    func floor(_ address: UInt64) -> (start: UInt64, end: UInt64)? {
        var t = root
        var best: Int32 = -1
        while t >= 0 {
            let n = nodes[Int(t)]
            if n.start <= address { best = t; t = n.right } else { t = n.left }
        }
        return best < 0 ? nil : (nodes[Int(best)].start, nodes[Int(best)].end)
    }

    /// The range with the smallest start `>= address`.
    func ceiling(_ address: UInt64) -> (start: UInt64, end: UInt64)? {
        var t = root
        var best: Int32 = -1
        while t >= 0 {
            let n = nodes[Int(t)]
            if n.start >= address { best = t; t = n.left } else { t = n.right }
        }
        return best < 0 ? nil : (nodes[Int(best)].start, nodes[Int(best)].end)
    }

    /// All ranges in tree order.
    func inOrder() -> [(start: UInt64, end: UInt64)] {
        var out: [(start: UInt64, end: UInt64)] = []
        out.reserveCapacity(count)
        var stack: [Int32] = []
        var t = root
        while t >= 0 || !stack.isEmpty {
            while t >= 0 { stack.append(t); t = nodes[Int(t)].left }
            let top = stack.removeLast()
            out.append((nodes[Int(top)].start, nodes[Int(top)].end))
            t = nodes[Int(top)].right
        }
        return out
    }

    // MARK: Fit searches

    /// The lowest (or highest) aligned address in `[start, end) ∩ [lo, hi)` that holds the request.
    @inline(__always)
    static func place(_ q: Query, start: UInt64, end: UInt64, highest: Bool) -> UInt64? {
        let s = Swift.max(start, q.lo), e = Swift.min(end, q.hi)
        guard e > s, e - s >= q.size else { return nil }
        if highest {
            let a = (e - q.size) & ~q.mask
            return a >= s ? a : nil
        }
        let (bumped, overflow) = s.addingReportingOverflow(q.mask)
        guard !overflow else { return nil }
        let a = bumped & ~q.mask
        return a <= e - q.size ? a : nil
    }

    /// Start-ordered tree: the fitting range with the lowest address (or highest, when
    /// `highest`), and the lowest (highest) aligned address in it.
    mutating func addressOrderedFit(_ q: Query, highest: Bool) -> Hit? {
        var visits = 0
        let hit = addressOrderedFit(q, root, highest: highest, visits: &visits)
        searchVisits &+= visits
        return hit
    }

    /// In-order search (reverse in-order when `highest`) for the first fitting range.
    private func addressOrderedFit(_ q: Query, _ t: Int32, highest: Bool, visits: inout Int) -> Hit? {
        if t < 0 { return nil }
        visits &+= 1
        let n = nodes[Int(t)]
        if usable(t, q.usableClass) < q.size { return nil }
        if n.end <= q.lo { return addressOrderedFit(q, n.right, highest: highest, visits: &visits) }
        if n.start >= q.hi { return addressOrderedFit(q, n.left, highest: highest, visits: &visits) }
        let (near, far) = highest ? (n.right, n.left) : (n.left, n.right)
        if let hit = addressOrderedFit(q, near, highest: highest, visits: &visits) { return hit }
        if let a = Self.place(q, start: n.start, end: n.end, highest: highest) {
            return Hit(start: n.start, end: n.end, address: a)
        }
        return addressOrderedFit(q, far, highest: highest, visits: &visits)
    }

    /// The outcome of a search that may give up.
    enum BoundedHit {
        case found(Hit)
        case notFound
        /// The search visited more than its budget of nodes and stopped without an answer.
        case overBudget

        /// The range found, if the search completed and found one.
        var hit: Hit? { if case .found(let hit) = self { hit } else { nil } }
    }

    /// Size-ordered tree: the shortest fitting range (ties: lowest start) and the lowest
    /// aligned address in it. Gives up after visiting more than `budget` nodes (a
    /// constrained search may otherwise walk ranges outside the constraint).
    mutating func bestFit(_ q: Query, budget: Int = .max) -> BoundedHit {
        var visits = 0
        let hit = bestFit(q, root, visits: &visits, budget: budget)
        searchVisits &+= visits
        if visits > budget { return .overBudget }
        return hit.map { .found($0) } ?? .notFound
    }

    private func bestFit(_ q: Query, _ t: Int32, visits: inout Int, budget: Int) -> Hit? {
        if t < 0 { return nil }
        visits &+= 1
        if visits > budget { return nil }  // given up: callers see `visits > budget`
        let n = nodes[Int(t)]
        if usable(t, q.usableClass) < q.size || n.maxEnd <= q.lo || n.minStart >= q.hi { return nil }
        if n.end &- n.start < q.size { return bestFit(q, n.right, visits: &visits, budget: budget) }
        if let hit = bestFit(q, n.left, visits: &visits, budget: budget) { return hit }
        if visits > budget { return nil }
        if let a = Self.place(q, start: n.start, end: n.end, highest: false) {
            return Hit(start: n.start, end: n.end, address: a)
        }
        return bestFit(q, n.right, visits: &visits, budget: budget)
    }
}

extension FreeRangeTree: ArrayTreap {
    typealias Key = (start: UInt64, end: UInt64)
    func left(_ t: Int32) -> Int32 { nodes[Int(t)].left }
    func right(_ t: Int32) -> Int32 { nodes[Int(t)].right }
    mutating func setLeft(_ t: Int32, _ child: Int32) { nodes[Int(t)].left = child }
    mutating func setRight(_ t: Int32, _ child: Int32) { nodes[Int(t)].right = child }
    func priority(_ t: Int32) -> UInt32 { nodes[Int(t)].priority }
    /// The key is a range `(start, end)`.
    func orders(_ t: Int32, before key: (start: UInt64, end: UInt64)) -> Bool { !precedes(key.start, key.end, t) }
}
