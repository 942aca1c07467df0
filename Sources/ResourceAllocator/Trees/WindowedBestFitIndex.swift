import HostSupport

/// Best-fit inside an address window in O(log² n): the free ranges in a treap ordered by
/// start (the *outer* tree), where every node also owns a size-ordered treap of all the
/// ranges in its subtree (a tree of ``SizeOrderedForest``), augmented with exact subtree
/// maxima of the usable length at each alignment that constrained best-fit has used.
///
/// A query for `[lo, hi)` checks directly the at most two free ranges that straddle `lo`
/// or `hi` (clipped placement, ``FreeRangeTree/place(_:start:end:highest:)``). The ranges
/// lying wholly inside form one run in address order; it decomposes into O(log n) outer
/// nodes on the two boundary paths plus O(log n) whole subtrees hanging between them, and
/// each subtree answers "shortest range (ties: lowest start) whose usable length at the
/// alignment is at least the size" from its inner tree in O(log n). So a query is
/// O(log² n) node visits in the worst case, counted in `searchVisits`.
///
/// Updates (expected, treap analysis of Seidel and Aragon):
/// - `insert` / `remove`: the range enters or leaves the inner tree of each of its
///   O(log n) outer ancestors, O(log n) each. Where the outer tree's shape changes (the
///   split or merge path around the node), those nodes' inner trees are rebuilt from their
///   children's in linear time; with a rebuild cost linear in subtree size the expected
///   total is O(log n) (the inserted node reuses its predecessor's inner tree).
///   O(log² n) per update overall.
/// - `replace` (a range shrinks or grows in place, keeping its address order, as when an
///   allocation carves one end or a free merges a neighbour): no outer change; the range
///   is re-keyed in the O(log n) inner trees on its path, O(log² n).
///
/// Memory, O(n log n): each range sits in the inner tree of every outer ancestor and of
/// its own node, expected at most 2·ln n + 1 trees; measured about 1.2·n·log2 n inner
/// nodes (2.0 M at 100 k ranges), each 12 bytes plus 8 bytes per alignment column (41 MB
/// with one column at 100 k), plus 40 bytes per range. Built on the first constrained
/// best-fit request, in O(n log n).
struct WindowedBestFitIndex {
    /// An outer node: the outer links and priority of element `i` (same index).
    struct Outer {
        var left: Int32
        var right: Int32
        var priority: UInt32
        /// Root of the inner tree holding this node's subtree.
        var tree: Int32
    }

    private var forest: SizeOrderedForest
    private var outer: [Outer] = []
    private var root: Int32 = -1
    private var rng: SplitMix64
    /// Nodes visited by ``bestFit(_:)`` since creation, outer and inner together (tests).
    private(set) var searchVisits = 0

    /// Builds the index over `ranges` (disjoint, in address order) in O(n log n).
    init(sorted ranges: [(start: UInt64, end: UInt64)], seed: UInt64) {
        rng = SplitMix64(seed: seed)
        forest = SizeOrderedForest(seed: seed ^ 0x94D0_49BB_1331_11EB)
        // The outer treap from the sorted sequence (right-spine stack), then every inner
        // tree in post-order from its children's.
        var spine: [Int32] = []
        for r in ranges {
            let x = makeElement(start: r.start, end: r.end)
            var last: Int32 = -1
            while let top = spine.last, outer[Int(top)].priority < outer[Int(x)].priority {
                last = spine.removeLast()
            }
            outer[Int(x)].left = last
            if let top = spine.last { outer[Int(top)].right = x }
            spine.append(x)
        }
        root = spine.first ?? -1
        var stack: [(node: Int32, childrenDone: Bool)] = root >= 0 ? [(root, false)] : []
        while let (t, done) = stack.popLast() {
            let n = outer[Int(t)]
            if done {
                rebuildTree(t)
            } else {
                stack.append((t, true))
                if n.left >= 0 { stack.append((n.left, false)) }
                if n.right >= 0 { stack.append((n.right, false)) }
            }
        }
    }

    /// Inner nodes in use (the O(n log n) term of the memory).
    var innerNodeCount: Int { forest.nodeCount }

    private mutating func makeElement(start: UInt64, end: UInt64) -> Int32 {
        let e = forest.addElement(start: start, end: end)
        let node = Outer(left: -1, right: -1, priority: UInt32(truncatingIfNeeded: rng.next() >> 32), tree: -1)
        if Int(e) == outer.count { outer.append(node) } else { outer[Int(e)] = node }
        return e
    }

    @inline(__always)
    private func start(_ t: Int32) -> UInt64 { forest.elements[Int(t)].start }

    /// Replaces the inner tree of `t` by one built from its children's trees and itself.
    private mutating func rebuildTree(_ t: Int32) {
        let n = outer[Int(t)]
        let left = n.left >= 0 ? outer[Int(n.left)].tree : -1
        let right = n.right >= 0 ? outer[Int(n.right)].tree : -1
        outer[Int(t)].tree = forest.rebuild(n.tree, from: left, right, adding: t)
    }

    // MARK: Updates

    /// Adds the free range `[start, end)`; it must not overlap any range in the index.
    mutating func insert(start: UInt64, end: UInt64) {
        let x = makeElement(start: start, end: end)
        root = insert(x, into: root)
    }

    private mutating func insert(_ x: Int32, into t: Int32) -> Int32 {
        if t < 0 {
            outer[Int(x)].tree = forest.makeNode(x)
            return x
        }
        if outer[Int(x)].priority > outer[Int(t)].priority {
            // `x` takes `t`'s place: its subtree is `t`'s plus itself, so it takes over
            // `t`'s inner tree; the split path below gets rebuilt trees.
            outer[Int(x)].tree = forest.insert(forest.makeNode(x), into: outer[Int(t)].tree)
            outer[Int(t)].tree = -1
            let (l, r) = split(t, at: start(x))
            outer[Int(x)].left = l
            outer[Int(x)].right = r
            return x
        }
        outer[Int(t)].tree = forest.insert(forest.makeNode(x), into: outer[Int(t)].tree)
        if start(x) < start(t) {
            outer[Int(t)].left = insert(x, into: outer[Int(t)].left)
        } else {
            outer[Int(t)].right = insert(x, into: outer[Int(t)].right)
        }
        return t
    }

    private mutating func split(_ t: Int32, at key: UInt64) -> (Int32, Int32) {
        if t < 0 { return (-1, -1) }
        if key < start(t) {
            let (l, r) = split(outer[Int(t)].left, at: key)
            outer[Int(t)].left = r
            rebuildTree(t)
            return (l, t)
        } else {
            let (l, r) = split(outer[Int(t)].right, at: key)
            outer[Int(t)].right = l
            rebuildTree(t)
            return (t, r)
        }
    }

    /// Joins `a` and `b` (all of `a` before `b`). The root of the result takes `reuse`, a
    /// tree already holding exactly the elements of both, instead of a rebuilt one.
    private mutating func merge(_ a: Int32, _ b: Int32, reuse: Int32?) -> Int32 {
        if a < 0 || b < 0 {
            if let reuse { forest.release(reuse) }
            return a < 0 ? b : a
        }
        let top: Int32
        if outer[Int(a)].priority > outer[Int(b)].priority {
            outer[Int(a)].right = merge(outer[Int(a)].right, b, reuse: nil)
            top = a
        } else {
            outer[Int(b)].left = merge(a, outer[Int(b)].left, reuse: nil)
            top = b
        }
        if let reuse {
            forest.release(outer[Int(top)].tree)
            outer[Int(top)].tree = reuse
        } else {
            rebuildTree(top)
        }
        return top
    }

    /// Removes the free range starting at `start`, which must be in the index.
    mutating func remove(start: UInt64) {
        root = remove(find(start, from: root), from: root)
    }

    private mutating func remove(_ e: Int32, from t: Int32) -> Int32 {
        let n = outer[Int(t)]
        var detached: Int32 = -1
        let rest = forest.remove(e, from: n.tree, detached: &detached)
        forest.release(detached)
        if t == e {
            // Freed slots keep no tree (``bestFit(_:)`` passes every slot's to the forest).
            outer[Int(t)].tree = -1
            forest.removeElement(t)
            return merge(n.left, n.right, reuse: rest)
        }
        outer[Int(t)].tree = rest
        if start(e) < start(t) {
            outer[Int(t)].left = remove(e, from: n.left)
        } else {
            outer[Int(t)].right = remove(e, from: n.right)
        }
        return t
    }

    /// The element starting at `key` in the subtree of `t` (it must be there).
    private func find(_ key: UInt64, from t: Int32) -> Int32 {
        var t = t
        while start(t) != key { t = key < start(t) ? outer[Int(t)].left : outer[Int(t)].right }
        return t
    }

    /// Replaces the range starting at `oldStart` by `[start, end)`, which must keep its
    /// place in address order (see ``FreeRangeTree/replace(oldStart:start:end:)``).
    mutating func replace(oldStart: UInt64, start: UInt64, end: UInt64) {
        let e = find(oldStart, from: root)
        // Take the element out of every inner tree on its path, re-key it, put it back.
        var path: [(node: Int32, detached: Int32)] = []
        var t = root
        while true {
            var detached: Int32 = -1
            outer[Int(t)].tree = forest.remove(e, from: outer[Int(t)].tree, detached: &detached)
            path.append((t, detached))
            if t == e { break }
            t = oldStart < self.start(t) ? outer[Int(t)].left : outer[Int(t)].right
        }
        forest.setRange(e, start: start, end: end)
        for (node, detached) in path {
            outer[Int(node)].tree = forest.insert(forest.refresh(detached), into: outer[Int(node)].tree)
        }
    }

    // MARK: Search

    /// The free range an exhaustive best-fit would choose inside `[q.lo, q.hi)`: the
    /// shortest (ties: lowest start) in which ``FreeRangeTree/place(_:start:end:highest:)``
    /// succeeds, and the lowest aligned address in it. O(log² n) visits.
    mutating func bestFit(_ q: FreeRangeTree.Query) -> FreeRangeTree.Hit? {
        guard root >= 0 else { return nil }
        let shift = UInt64(q.mask.nonzeroBitCount)
        let column = forest.column(forShift: shift) ?? forest.addColumn(forShift: shift, roots: outer.map(\.tree))
        var visits = 0
        defer { searchVisits &+= visits }
        var best: Int32 = -1
        func consider(_ e: Int32) {
            guard best < 0 || forest.element(e, precedes: best) else { return }
            let x = forest.elements[Int(e)]
            if FreeRangeTree.place(q, start: x.start, end: x.end, highest: false) != nil { best = e }
        }
        // The ranges straddling `lo` and `hi`, clipped; the wholly-inside ones start in
        // [lo, insideEnd).
        var insideEnd = q.hi
        let low = floor(q.lo, visits: &visits)
        if low >= 0, start(low) < q.lo { consider(low) }
        let high = floor(q.hi - 1, visits: &visits)
        if high >= 0, forest.elements[Int(high)].end > q.hi {
            consider(high)
            insideEnd = Swift.max(q.lo, start(high))
        }
        // The split node, then the two boundary paths below it.
        var t = root
        while t >= 0 {
            visits &+= 1
            if start(t) < q.lo {
                t = outer[Int(t)].right
            } else if start(t) >= insideEnd {
                t = outer[Int(t)].left
            } else {
                break
            }
        }
        guard t >= 0 else { return hit(q, best) }
        consider(t)
        func subtree(_ c: Int32) {
            guard c >= 0,
                let e = forest.firstFitting(
                    outer[Int(c)].tree, size: q.size, column: column,
                    before: best, visits: &visits)
            else { return }
            best = e
        }
        var u = outer[Int(t)].left
        while u >= 0 {
            visits &+= 1
            if start(u) >= q.lo {
                consider(u)
                subtree(outer[Int(u)].right)
                u = outer[Int(u)].left
            } else {
                u = outer[Int(u)].right
            }
        }
        u = outer[Int(t)].right
        while u >= 0 {
            visits &+= 1
            if start(u) < insideEnd {
                consider(u)
                subtree(outer[Int(u)].left)
                u = outer[Int(u)].right
            } else {
                u = outer[Int(u)].left
            }
        }
        return hit(q, best)
    }

    private func hit(_ q: FreeRangeTree.Query, _ e: Int32) -> FreeRangeTree.Hit? {
        guard e >= 0 else { return nil }
        let x = forest.elements[Int(e)]
        guard let a = FreeRangeTree.place(q, start: x.start, end: x.end, highest: false) else { return nil }
        return FreeRangeTree.Hit(start: x.start, end: x.end, address: a)
    }

    /// The element with the largest start `<= address`, or -1.
    private func floor(_ address: UInt64, visits: inout Int) -> Int32 {
        var t = root, best: Int32 = -1
        while t >= 0 {
            visits &+= 1
            if start(t) <= address { best = t; t = outer[Int(t)].right } else { t = outer[Int(t)].left }
        }
        return best
    }
}
