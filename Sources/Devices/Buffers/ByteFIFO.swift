/// A first-in first-out byte buffer: appended at the end, consumed from the front, the storage
/// compacted as the front advances (no reallocation per byte consumed).
struct ByteFIFO {
    private var storage: [UInt8] = []
    private var start = 0

    var count: Int { storage.count - start }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: some Collection<UInt8>) {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    /// Appends up to `count` bytes that `fill` writes and returns the number of (≤ `count`).
    mutating func appendUninitialized(_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        compactIfWorthwhile()
        let old = storage.count
        storage.append(contentsOf: repeatElement(0, count: count))
        let n = storage.withUnsafeMutableBytes { bytes in
            min(count, max(0, fill(UnsafeMutableRawBufferPointer(rebasing: bytes[old..<old + count]))))
        }
        storage.removeLast(count - n)
        return n
    }

    /// Calls `body` with the bytes at the front.
    func withFirstBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }

    mutating func removeFirst(_ n: Int) {
        start += min(n, count)
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        start = 0
    }

    /// The bytes, in order.
    var bytes: [UInt8] { Array(storage[start...]) }

    private mutating func compactIfWorthwhile() {
        if start > 0 && start >= storage.count / 2 {
            storage.removeFirst(start)
            start = 0
        }
    }
}
