/// Why an ``IdAllocator`` operation failed.
public enum IdAllocatorError: Error, Hashable, Sendable {
    /// The range of ids is empty (`first > last`).
    case invalidRange(first: UInt32, last: UInt32)
    /// Every id in the range is allocated.
    case exhausted
    /// The id is outside the allocator's range.
    case outOfRange(UInt32)
    /// `free` of an id that was never handed out.
    case notAllocated(UInt32)
    /// `free` of an id that was handed out and has already been freed.
    case doubleFree(UInt32)
    /// `reserve` of an id that is already allocated.
    case alreadyAllocated(UInt32)
}

/// Hands out integer ids (GSIs, KVM memory slots, device ids) from `first...last`,
/// always the smallest free one.
///
/// Ids from `next` upwards have never been handed out; freed ids below `next` wait in a
/// min-heap. `allocate` and `free` are O(log f) for f freed ids (O(1) while nothing has
/// been freed). Freeing an id that was never handed out, including the next id that
/// would be handed out, is an error and changes nothing (rust-vmm vm-allocator before
/// 0.1.4 accepted such a free and later handed the id out twice).
public struct IdAllocator: Sendable, Hashable {
    /// The first id in the range.
    public let first: UInt32
    /// The last id in the range (inclusive).
    public let last: UInt32
    /// Every id `>= next` (up to `last`) has never been handed out, or was handed back
    /// from the top. UInt64 so `last + 1` fits.
    private var next: UInt64
    /// Freed ids below `next`: the set is the truth, the heap may hold stale entries.
    private var freed: Set<UInt32> = []
    private var heap = MinHeap<UInt32>()

    /// Creates an allocator for the ids `first...last`, all free.
    public init(first: UInt32, last: UInt32) throws(IdAllocatorError) {
        guard first <= last else { throw .invalidRange(first: first, last: last) }
        self.first = first
        self.last = last
        next = UInt64(first)
    }

    /// Creates an allocator for `range`, all free.
    public init(_ range: ClosedRange<UInt32>) {
        first = range.lowerBound
        last = range.upperBound
        next = UInt64(first)
    }

    /// The number of ids currently allocated.
    public var allocatedCount: Int { Int(next - UInt64(first)) - freed.count }

    /// Whether `id` is currently allocated.
    public func isAllocated(_ id: UInt32) -> Bool {
        id >= first && UInt64(id) < next && !freed.contains(id)
    }

    /// Hands out the smallest free id.
    public mutating func allocate() throws(IdAllocatorError) -> UInt32 {
        while let id = heap.popMin() {
            if freed.remove(id) != nil { return id }
        }
        guard next <= UInt64(last) else { throw .exhausted }
        let id = UInt32(next)
        next += 1
        return id
    }

    /// Allocates one particular id (for example legacy IRQ 4 for a serial port).
    ///
    /// Costs O(id - next) when `id` lies beyond every id handed out so far, because the
    /// skipped ids become free ids.
    public mutating func reserve(_ id: UInt32) throws(IdAllocatorError) {
        guard id >= first && id <= last else { throw .outOfRange(id) }
        if UInt64(id) < next {
            guard freed.remove(id) != nil else { throw .alreadyAllocated(id) }
            return
        }
        while next < UInt64(id) {
            let skipped = UInt32(next)
            freed.insert(skipped)
            heap.push(skipped)
            next += 1
        }
        next = UInt64(id) + 1
    }

    /// Returns `id` to the allocator.
    public mutating func free(_ id: UInt32) throws(IdAllocatorError) {
        guard id >= first && id <= last else { throw .outOfRange(id) }
        guard UInt64(id) < next else { throw .notAllocated(id) }
        guard !freed.contains(id) else { throw .doubleFree(id) }
        if UInt64(id) + 1 == next {
            // Hand the top back: shrink `next` over every freed id below it too.
            next -= 1
            while next > UInt64(first), freed.remove(UInt32(next - 1)) != nil { next -= 1 }
        } else {
            freed.insert(id)
            heap.push(id)
        }
    }

    public static func == (a: IdAllocator, b: IdAllocator) -> Bool {
        a.first == b.first && a.last == b.last && a.next == b.next && a.freed == b.freed
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(first)
        hasher.combine(last)
        hasher.combine(next)
        hasher.combine(freed)
    }
}

extension IdAllocator: Codable {
    private enum CodingKeys: String, CodingKey { case first, last, next, free }

    /// Encodes the range, the first never-used id and the freed ids below it (sorted).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(first, forKey: .first)
        try c.encode(last, forKey: .last)
        try c.encode(next, forKey: .next)
        try c.encode(freed.sorted(), forKey: .free)
    }

    /// Decodes and validates: `first <= next <= last + 1`, freed ids unique, inside the
    /// range and below `next`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let first = try c.decode(UInt32.self, forKey: .first)
        let last = try c.decode(UInt32.self, forKey: .last)
        let next = try c.decode(UInt64.self, forKey: .next)
        let free = try c.decode([UInt32].self, forKey: .free)
        guard first <= last, next >= UInt64(first), next <= UInt64(last) + 1 else {
            throw DecodingError.dataCorruptedError(forKey: .next, in: c, debugDescription: "inconsistent id range")
        }
        self.init(first...last)
        self.next = next
        for id in free {
            guard id >= first, UInt64(id) < next, freed.insert(id).inserted else {
                throw DecodingError.dataCorruptedError(forKey: .free, in: c, debugDescription: "invalid freed id \(id)")
            }
            heap.push(id)
        }
    }
}
