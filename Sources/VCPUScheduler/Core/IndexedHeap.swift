/// A binary min-heap of small integer handles (0, 1, 2, …) with a key each, supporting
/// removal and re-keying of any handle in O(log n). Ties between equal keys go to the smaller
/// handle, so the order is fully deterministic.
struct IndexedHeap<Key: Comparable & Sendable>: Sendable {
    private var heap: [Int] = []
    /// For each handle, its position in `heap`, or -1.
    private var position: [Int] = []
    private var keys: [Key?] = []

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    func contains(_ handle: Int) -> Bool {
        handle < position.count && position[handle] >= 0
    }

    func key(of handle: Int) -> Key? { handle < keys.count ? keys[handle] : nil }

    /// The handle with the smallest key, and its key.
    var min: (handle: Int, key: Key)? {
        guard let top = heap.first, let key = keys[top] else { return nil }
        return (top, key)
    }

    /// Inserts `handle`, or changes its key if it is present.
    mutating func set(_ handle: Int, key: Key) {
        if handle >= position.count {
            let grow = handle + 1 - position.count
            position.append(contentsOf: repeatElement(-1, count: grow))
            keys.append(contentsOf: repeatElement(nil, count: grow))
        }
        keys[handle] = key
        if position[handle] >= 0 {
            siftUp(position[handle])
            siftDown(position[handle])
        } else {
            heap.append(handle)
            position[handle] = heap.count - 1
            siftUp(heap.count - 1)
        }
    }

    /// Removes `handle` if present.
    mutating func remove(_ handle: Int) {
        guard contains(handle) else { return }
        let i = position[handle]
        let last = heap.count - 1
        if i != last {
            swapAt(i, last)
        }
        heap.removeLast()
        position[handle] = -1
        keys[handle] = nil
        if i < heap.count {
            let moved = heap[i]
            siftUp(i)
            siftDown(position[moved])
        }
    }

    /// Removes and returns the handle with the smallest key.
    mutating func popMin() -> (handle: Int, key: Key)? {
        guard let top = min else { return nil }
        remove(top.handle)
        return top
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        let ha = heap[a], hb = heap[b]
        // Keys of handles in the heap are never nil.
        guard let ka = keys[ha], let kb = keys[hb] else { return false }
        return ka < kb || (!(kb < ka) && ha < hb)
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        position[heap[a]] = a
        position[heap[b]] = b
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < n && less(l, smallest) { smallest = l }
            if r < n && less(r, smallest) { smallest = r }
            if smallest == i { return }
            swapAt(i, smallest)
            i = smallest
        }
    }
}
