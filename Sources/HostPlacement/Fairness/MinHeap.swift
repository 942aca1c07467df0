/// A binary min-heap.
struct MinHeap<Element: Comparable & Sendable>: Sendable {
    private(set) var elements: [Element] = []

    var isEmpty: Bool { elements.isEmpty }
    var min: Element? { elements.first }

    mutating func push(_ value: Element) {
        elements.append(value)
        var i = elements.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard elements[i] < elements[parent] else { break }
            elements.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popMin() -> Element? {
        guard let last = elements.popLast() else { return nil }
        guard !elements.isEmpty else { return last }
        let top = elements[0]
        elements[0] = last
        var i = 0
        let n = elements.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < n && elements[l] < elements[smallest] { smallest = l }
            if r < n && elements[r] < elements[smallest] { smallest = r }
            if smallest == i { break }
            elements.swapAt(i, smallest)
            i = smallest
        }
        return top
    }
}
