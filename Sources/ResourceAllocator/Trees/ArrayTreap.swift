/// The shape operations shared by the package's array-backed treaps (nodes addressed by
/// `Int32` index, -1 for none): insert, split at a key and merge. A conformer says how to reach a
/// node's children and priority, how a node compares with a key, and how to recompute a
/// node's subtree augmentation after its children change.
protocol ArrayTreap {
    associatedtype Key
    func left(_ t: Int32) -> Int32
    func right(_ t: Int32) -> Int32
    mutating func setLeft(_ t: Int32, _ child: Int32)
    mutating func setRight(_ t: Int32, _ child: Int32)
    /// The heap priority of node `t` (higher is nearer the root).
    func priority(_ t: Int32) -> UInt32
    /// Whether node `t` orders before `key`.
    func orders(_ t: Int32, before key: Key) -> Bool
    /// Recomputes the augmentation of `t` from its own value and its children's.
    mutating func augment(_ t: Int32)
}

extension ArrayTreap {
    /// Splits the treap at `t` into the nodes ordering before `key` and the rest.
    @inline(__always)
    mutating func split(_ t: Int32, at key: Key) -> (Int32, Int32) {
        if t < 0 { return (-1, -1) }
        if orders(t, before: key) {
            let (l, r) = split(right(t), at: key)
            setRight(t, l)
            augment(t)
            return (t, r)
        }
        let (l, r) = split(left(t), at: key)
        setLeft(t, r)
        augment(t)
        return (l, t)
    }

    /// Inserts the detached node `x`, whose key is `key`, into the treap at `t`; returns the
    /// new root.
    mutating func insert(_ x: Int32, into t: Int32, key: Key) -> Int32 {
        if t < 0 { return x }
        if priority(x) > priority(t) {
            let (l, r) = split(t, at: key)
            setLeft(x, l)
            setRight(x, r)
            augment(x)
            return x
        }
        if orders(t, before: key) {
            let child = insert(x, into: right(t), key: key)
            setRight(t, child)
        } else {
            let child = insert(x, into: left(t), key: key)
            setLeft(t, child)
        }
        augment(t)
        return t
    }

    /// Joins two treaps whose nodes all order `a` before `b`.
    mutating func merge(_ a: Int32, _ b: Int32) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        if priority(a) > priority(b) {
            let r = merge(right(a), b)
            setRight(a, r)
            augment(a)
            return a
        }
        let l = merge(a, left(b))
        setLeft(b, l)
        augment(b)
        return b
    }

    /// Recomputes the augmentation of every node of the treap at `root`, children before
    /// parents (after an augmentation column is added).
    mutating func augmentAll(from root: Int32) {
        var stack: [(node: Int32, childrenDone: Bool)] = root >= 0 ? [(root, false)] : []
        while let (t, done) = stack.popLast() {
            if done {
                augment(t)
                continue
            }
            stack.append((t, true))
            if left(t) >= 0 { stack.append((left(t), false)) }
            if right(t) >= 0 { stack.append((right(t), false)) }
        }
    }
}

/// A row-major table of `rows` × `columns` values with one more column, of zeros (for
/// per-node augmentation columns added later).
func addingColumn(to values: [UInt64], rows: Int, columns: Int) -> [UInt64] {
    var grown = [UInt64](repeating: 0, count: rows * (columns + 1))
    for i in 0..<rows {
        for j in 0..<columns { grown[i * (columns + 1) + j] = values[i * columns + j] }
    }
    return grown
}

/// Best-fit order of free ranges: shorter first, then lower start. Whether the range of
/// length `length` at `start` orders before the one of length `otherLength` at `otherStart`.
@inline(__always)
func sizeOrderPrecedes(length: UInt64, start: UInt64, _ otherLength: UInt64, _ otherStart: UInt64) -> Bool {
    length != otherLength ? length < otherLength : start < otherStart
}

/// Stores `node` in a slot of `nodes`: the last slot freed, if any, else a new one at the end.
/// Returns the slot and whether it is new (so that per-node side tables can grow with it).
@inline(__always)
func placeNode<Node>(_ node: Node, in nodes: inout [Node], reusing freeSlots: inout [Int32]) -> (
    slot: Int32, appended: Bool
) {
    if let reused = freeSlots.popLast() {
        nodes[Int(reused)] = node
        return (reused, false)
    }
    nodes.append(node)
    return (Int32(nodes.count - 1), true)
}
