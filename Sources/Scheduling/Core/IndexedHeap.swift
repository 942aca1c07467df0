/// A binary min-heap of small integer handles (0, 1, 2, …) with a key each, supporting
/// removal and re-keying of any handle in O(log n). Ties between equal keys go to the smaller
/// handle, so the order is fully deterministic. Keys live in the heap array itself (no
/// indirection when comparing); `position` maps a handle to its node.
struct IndexedHeap<Key: Comparable & Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var handle: Int

        @inline(__always)
        func precedes(_ other: Node) -> Bool {
            key < other.key || (!(other.key < key) && handle < other.handle)
        }
    }

    private var nodes: [Node] = []
    /// For each handle, its index in `nodes`, or -1.
    private var position: [Int] = []

    var count: Int { nodes.count }
    var isEmpty: Bool { nodes.isEmpty }

    func contains(_ handle: Int) -> Bool {
        handle >= 0 && handle < position.count && position[handle] >= 0
    }

    func key(of handle: Int) -> Key? { contains(handle) ? nodes[position[handle]].key : nil }

    /// The handle with the smallest key, and its key.
    var min: (handle: Int, key: Key)? {
        guard let top = nodes.first else { return nil }
        return (top.handle, top.key)
    }

    /// Inserts `handle` (≥ 0), or changes its key if it is present.
    mutating func set(_ handle: Int, key: Key) {
        if handle >= position.count {
            position.append(contentsOf: repeatElement(-1, count: handle + 1 - position.count))
        }
        let i = position[handle]
        if i >= 0 {
            nodes[i].key = key
            siftDown(siftUp(i))
        } else {
            nodes.append(Node(key: key, handle: handle))
            position[handle] = nodes.count - 1
            siftUp(nodes.count - 1)
        }
    }

    /// Removes `handle` if present.
    mutating func remove(_ handle: Int) {
        guard contains(handle) else { return }
        let i = position[handle]
        let last = nodes.count - 1
        if i != last {
            nodes[i] = nodes[last]
            position[nodes[i].handle] = i
        }
        nodes.removeLast()
        position[handle] = -1
        if i < nodes.count { siftDown(siftUp(i)) }
    }

    /// Removes and returns the handle with the smallest key.
    mutating func popMin() -> (handle: Int, key: Key)? {
        guard let top = min else { return nil }
        remove(top.handle)
        return top
    }

    /// Moves the node at `start` up to its place; returns where it ended.
    @discardableResult
    private mutating func siftUp(_ start: Int) -> Int {
        let node = nodes[start]
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard node.precedes(nodes[parent]) else { break }
            nodes[i] = nodes[parent]
            position[nodes[i].handle] = i
            i = parent
        }
        nodes[i] = node
        position[node.handle] = i
        return i
    }

    private mutating func siftDown(_ start: Int) {
        let node = nodes[start]
        let n = nodes.count
        var i = start
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            let r = l + 1
            let child = r < n && nodes[r].precedes(nodes[l]) ? r : l
            guard nodes[child].precedes(node) else { break }
            nodes[i] = nodes[child]
            position[nodes[i].handle] = i
            i = child
        }
        nodes[i] = node
        position[node.handle] = i
    }
}
