import HostSupport

/// Many treaps over one shared set of free ranges (the *elements*), each ordered by
/// (length, start) and augmented, per node, with the subtree maximum of the usable length
/// (``UsableLengths/usable(start:end:shift:)``) at every alignment in `shifts`. A range
/// may sit in many trees at once; ``WindowedBestFitIndex`` keeps one tree per node of its
/// address-ordered tree, holding that node's subtree.
///
/// Everything lives in flat arrays and trees refer to nodes by `Int32` index: an inner node
/// is three `Int32`s (element, left, right) plus one `UInt64` per alignment column; the
/// element's key and treap priority are stored once, in `elements`. The priority is drawn
/// independently of the key and of the outer tree, so every tree is a treap of expected
/// O(log m) depth for its `m` elements.
struct SizeOrderedForest {
    struct Element {
        var start: UInt64
        var end: UInt64
        var priority: UInt32
    }

    struct Node {
        var element: Int32
        var left: Int32
        var right: Int32
    }

    /// Free ranges by element id (slots of removed ranges are reused).
    private(set) var elements: [Element] = []
    private var freeElements: [Int32] = []
    private var nodes: [Node] = []
    private var freeNodes: [Int32] = []
    /// log2 of the alignments that have a column, in the order they were added.
    private(set) var shifts: [UInt64] = []
    /// Per node slot, the subtree maximum of the usable length at each of `shifts`
    /// (slot `i`, column `j` at `i * shifts.count + j`).
    private var usableMax: [UInt64] = []
    private var rng: SplitMix64
    /// Scratch buffers for ``rebuild(_:_:adding:)`` (kept to avoid allocating per rebuild).
    private var scratch: ([Int32], [Int32], [Int32]) = ([], [], [])

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Inner nodes in use (for the memory statement and tests).
    var nodeCount: Int { nodes.count - freeNodes.count }

    // MARK: Elements

    mutating func addElement(start: UInt64, end: UInt64) -> Int32 {
        let e = Element(start: start, end: end, priority: UInt32(truncatingIfNeeded: rng.next() >> 32))
        if let reused = freeElements.popLast() {
            elements[Int(reused)] = e
            return reused
        }
        elements.append(e)
        return Int32(elements.count - 1)
    }

    mutating func removeElement(_ e: Int32) { freeElements.append(e) }

    /// Changes element `e`'s range. It must be in no tree (detach it first).
    mutating func setRange(_ e: Int32, start: UInt64, end: UInt64) {
        elements[Int(e)].start = start
        elements[Int(e)].end = end
    }

    /// Whether element `a` orders before the key `(length, start)`.
    @inline(__always)
    private func precedes(_ a: Int32, length: UInt64, start: UInt64) -> Bool {
        let x = elements[Int(a)]
        return sizeOrderPrecedes(length: x.end &- x.start, start: x.start, length, start)
    }

    @inline(__always)
    private func key(_ t: Int32) -> (length: UInt64, start: UInt64) {
        let x = elements[Int(nodes[Int(t)].element)]
        return (x.end &- x.start, x.start)
    }

    // MARK: Columns

    /// The column for alignment `2^shift`, if it has one.
    func column(forShift shift: UInt64) -> Int? { shifts.firstIndex(of: shift) }

    /// Adds a column for alignment `2^shift` to the trees at `roots` (all trees in use):
    /// O(nodes) once, then maintained by every update at O(1) per touched node.
    mutating func addColumn(forShift shift: UInt64, roots: [Int32]) -> Int {
        let old = shifts.count
        usableMax = addingColumn(to: usableMax, rows: nodes.count, columns: old)
        shifts.append(shift)
        for root in roots { augmentAll(from: root) }
        return old
    }

    @inline(__always)
    func usableMax(_ t: Int32, _ column: Int) -> UInt64 { usableMax[Int(t) * shifts.count + column] }

    /// Recomputes the columns of `t` from its element and children.
    @inline(__always)
    mutating func augment(_ t: Int32) {
        let n = nodes[Int(t)], x = elements[Int(n.element)], k = shifts.count
        for j in 0..<k {
            var v = UsableLengths.usable(start: x.start, end: x.end, shift: shifts[j])
            if n.left >= 0 { v = Swift.max(v, usableMax[Int(n.left) * k + j]) }
            if n.right >= 0 { v = Swift.max(v, usableMax[Int(n.right) * k + j]) }
            usableMax[Int(t) * k + j] = v
        }
    }

    // MARK: Nodes

    /// A detached one-element tree for element `e`.
    mutating func makeNode(_ e: Int32) -> Int32 {
        let (t, appended) = placeNode(Node(element: e, left: -1, right: -1), in: &nodes, reusing: &freeNodes)
        if appended { usableMax.append(contentsOf: repeatElement(0, count: shifts.count)) }
        augment(t)
        return t
    }

    /// Recomputes the columns of the one-element tree `t` after ``setRange(_:start:end:)``.
    mutating func refresh(_ t: Int32) -> Int32 {
        augment(t)
        return t
    }

    /// Releases every node of the tree at `root`.
    mutating func release(_ root: Int32) {
        guard root >= 0 else { return }
        var stack = [root]
        while let t = stack.popLast() {
            let n = nodes[Int(t)]
            if n.left >= 0 { stack.append(n.left) }
            if n.right >= 0 { stack.append(n.right) }
            freeNodes.append(t)
        }
    }

    // MARK: Updates

    /// Inserts the detached node `x` into the tree at `t`; returns the new root.
    mutating func insert(_ x: Int32, into t: Int32) -> Int32 {
        insert(x, into: t, key: key(x))
    }

    /// Takes element `e` (which must be in the tree) out of the tree at `t`; returns the new
    /// root and sets `detached` to its node, now a one-element tree to reinsert or release.
    mutating func remove(_ e: Int32, from t: Int32, detached: inout Int32) -> Int32 {
        let n = nodes[Int(t)]
        if n.element == e {
            detached = t
            let m = merge(n.left, n.right)
            nodes[Int(t)].left = -1
            nodes[Int(t)].right = -1
            augment(t)
            return m
        }
        let x = elements[Int(e)]
        if precedes(n.element, length: x.end &- x.start, start: x.start) {
            nodes[Int(t)].right = remove(e, from: n.right, detached: &detached)
        } else {
            nodes[Int(t)].left = remove(e, from: n.left, detached: &detached)
        }
        augment(t)
        return t
    }

    /// Releases the tree at `old` and returns a new tree holding the elements of the trees
    /// at `a` and `b` and the element `extra` (when `>= 0`): in-order walks, a linear merge
    /// and a linear treap build from the sorted sequence, so O(size).
    mutating func rebuild(_ old: Int32, from a: Int32, _ b: Int32, adding extra: Int32) -> Int32 {
        var (left, right, merged) = scratch
        scratch = ([], [], [])
        defer { scratch = (left, right, merged) }
        appendInOrder(a, to: &left)
        appendInOrder(b, to: &right)
        if extra >= 0 {
            let x = elements[Int(extra)], l = x.end &- x.start
            let i = partitionPoint(left) { !precedes($0, length: l, start: x.start) }
            left.insert(extra, at: i)
        }
        var i = 0, j = 0
        while i < left.count || j < right.count {
            if j == right.count || (i < left.count && element(left[i], precedes: right[j])) {
                merged.append(left[i]); i += 1
            } else {
                merged.append(right[j]); j += 1
            }
        }
        release(old)
        let root = build(sorted: merged)
        left.removeAll(keepingCapacity: true)
        right.removeAll(keepingCapacity: true)
        merged.removeAll(keepingCapacity: true)
        return root
    }

    /// Whether element `a` orders before element `b` (shorter, or as long and lower).
    @inline(__always)
    func element(_ a: Int32, precedes b: Int32) -> Bool {
        let y = elements[Int(b)]
        return precedes(a, length: y.end &- y.start, start: y.start)
    }

    private func partitionPoint(_ a: [Int32], _ isAfter: (Int32) -> Bool) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isAfter(a[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    private func appendInOrder(_ root: Int32, to out: inout [Int32]) {
        var stack: [Int32] = []
        var t = root
        while t >= 0 || !stack.isEmpty {
            while t >= 0 { stack.append(t); t = nodes[Int(t)].left }
            let top = stack.removeLast()
            out.append(nodes[Int(top)].element)
            t = nodes[Int(top)].right
        }
    }

    /// The treap of `sorted` (elements in key order), built in O(count) with the
    /// right-spine stack of a Cartesian-tree construction.
    private mutating func build(sorted: [Int32]) -> Int32 {
        var spine: [Int32] = []
        for e in sorted {
            let x = makeNode(e), p = elements[Int(e)].priority
            var last: Int32 = -1
            while let top = spine.last, elements[Int(nodes[Int(top)].element)].priority < p {
                last = spine.removeLast()
                augment(last)
            }
            nodes[Int(x)].left = last
            if let top = spine.last { nodes[Int(top)].right = x }
            spine.append(x)
        }
        let root = spine.first ?? -1
        while let t = spine.popLast() { augment(t) }
        return root
    }

    // MARK: Search

    /// In the tree at `root`: the first element in (length, start) order whose usable length
    /// at `column` is at least `size`, if it orders before `bound` (an element, or -1 for
    /// none). Expected O(log m): the column is an exact subtree maximum, so the walk never
    /// leaves a subtree it entered.
    func firstFitting(_ root: Int32, size: UInt64, column: Int, before bound: Int32, visits: inout Int) -> Int32? {
        var t = root
        guard t >= 0, usableMax(t, column) >= size else { return nil }
        let shift = shifts[column]
        while t >= 0 {
            visits &+= 1
            let n = nodes[Int(t)]
            if n.left >= 0 && usableMax(n.left, column) >= size { t = n.left; continue }
            // Everything from here on orders after `n.element`.
            if bound >= 0 && !element(n.element, precedes: bound) { return nil }
            let x = elements[Int(n.element)]
            if UsableLengths.usable(start: x.start, end: x.end, shift: shift) >= size { return n.element }
            t = n.right
        }
        return nil
    }
}

extension SizeOrderedForest: ArrayTreap {
    typealias Key = (length: UInt64, start: UInt64)
    func left(_ t: Int32) -> Int32 { nodes[Int(t)].left }
    func right(_ t: Int32) -> Int32 { nodes[Int(t)].right }
    mutating func setLeft(_ t: Int32, _ child: Int32) { nodes[Int(t)].left = child }
    mutating func setRight(_ t: Int32, _ child: Int32) { nodes[Int(t)].right = child }
    func priority(_ t: Int32) -> UInt32 { elements[Int(nodes[Int(t)].element)].priority }
    /// The key is `(length, start)`.
    func orders(_ t: Int32, before key: (length: UInt64, start: UInt64)) -> Bool {
        precedes(nodes[Int(t)].element, length: key.length, start: key.start)
    }
}
