/// A first-in first-out queue (an array read from a moving start, compacted as it empties).
struct FIFOQueue<Element> {
    private var storage: [Element] = []
    private var start = 0

    var count: Int { storage.count - start }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard start < storage.count else { return nil }
        let element = storage[start]
        start += 1
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 64 && start >= storage.count / 2 {
            storage.removeFirst(start)
            start = 0
        }
        return element
    }

    mutating func removeAll() {
        storage.removeAll()
        start = 0
    }
}
