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
/// Ids from `next` upwards have never been handed out (or were handed back from the top);
/// freed ids below `next` are bits in a two-level bitmap (one summary bit per 64-id
/// word), so `allocate` and `free` cost O(1) plus a scan of summary words that is
/// amortised by a low-water hint. The bitmap only covers ids below `next`, so memory grows
/// with the ids actually handed out, not with the size of the range. Freeing an id that
/// was never handed out, including the next id that would be handed out, is an error and
/// changes nothing (rust-vmm vm-allocator before 0.1.4 accepted such a free and later
/// handed the id out twice).
public struct IdAllocator: Sendable, Hashable {
    /// The first id in the range.
    public let first: UInt32
    /// The last id in the range (inclusive).
    public let last: UInt32
    /// Offset (from `first`) of the lowest id never handed out. UInt64 so `last + 1` fits.
    private var next: UInt64 = 0
    /// Bit `b` of word `w` set: id `first + 64 w + b` (below `next`) is free.
    private var words: [UInt64] = []
    /// Bit `j` of summary word `s` set: `words[64 s + j]` is non-zero.
    private var summary: [UInt64] = []
    /// Every summary word below this index is zero.
    private var hint = 0
    private var freeBelowNext = 0

    /// Creates an allocator for the ids `first...last`, all free.
    public init(first: UInt32, last: UInt32) throws(IdAllocatorError) {
        guard first <= last else { throw .invalidRange(first: first, last: last) }
        self.first = first
        self.last = last
    }

    /// Creates an allocator for `range`, all free.
    public init(_ range: ClosedRange<UInt32>) {
        first = range.lowerBound
        last = range.upperBound
    }

    /// The number of ids currently allocated.
    public var allocatedCount: Int { Int(next) - freeBelowNext }

    private func offset(_ id: UInt32) -> UInt64? {
        id >= first && id <= last ? UInt64(id - first) : nil
    }

    private func isFreeBit(_ off: UInt64) -> Bool {
        let w = Int(off >> 6)
        return w < words.count && words[w] & (1 << (off & 63)) != 0
    }

    private mutating func setFreeBit(_ off: UInt64) {
        let w = Int(off >> 6), s = w >> 6
        if w >= words.count { words.append(contentsOf: repeatElement(0, count: w - words.count + 1)) }
        if s >= summary.count { summary.append(contentsOf: repeatElement(0, count: s - summary.count + 1)) }
        words[w] |= 1 << (off & 63)
        summary[s] |= 1 << UInt64(w & 63)
        hint = Swift.min(hint, s)
        freeBelowNext += 1
    }

    private mutating func clearFreeBit(_ off: UInt64) {
        let w = Int(off >> 6)
        words[w] &= ~(1 << (off & 63))
        if words[w] == 0 { summary[w >> 6] &= ~(1 << UInt64(w & 63)) }
        freeBelowNext -= 1
    }

    /// Whether `id` is currently allocated.
    public func isAllocated(_ id: UInt32) -> Bool {
        guard let off = offset(id) else { return false }
        return off < next && !isFreeBit(off)
    }

    /// Hands out the smallest free id.
    public mutating func allocate() throws(IdAllocatorError) -> UInt32 {
        if freeBelowNext > 0 {
            while summary[hint] == 0 { hint += 1 }
            let w = hint << 6 | summary[hint].trailingZeroBitCount
            let off = UInt64(w << 6 | words[w].trailingZeroBitCount)
            clearFreeBit(off)
            return first + UInt32(off)
        }
        guard next <= UInt64(last - first) else { throw .exhausted }
        next += 1
        return first + UInt32(next - 1)
    }

    /// Allocates one particular id (for example legacy IRQ 4 for a serial port).
    ///
    /// Costs O(id - next) when `id` lies beyond every id handed out so far, because the
    /// skipped ids become free ids.
    public mutating func reserve(_ id: UInt32) throws(IdAllocatorError) {
        guard let off = offset(id) else { throw .outOfRange(id) }
        if off < next {
            guard isFreeBit(off) else { throw .alreadyAllocated(id) }
            clearFreeBit(off)
            return
        }
        while next < off {
            setFreeBit(next)
            next += 1
        }
        next = off + 1
    }

    /// Returns `id` to the allocator.
    public mutating func free(_ id: UInt32) throws(IdAllocatorError) {
        guard let off = offset(id) else { throw .outOfRange(id) }
        guard off < next else { throw .notAllocated(id) }
        guard !isFreeBit(off) else { throw .doubleFree(id) }
        if off + 1 == next {
            // Hand the top back: shrink `next` over every free id below it too.
            next -= 1
            while next > 0, isFreeBit(next - 1) {
                clearFreeBit(next - 1)
                next -= 1
            }
        } else {
            setFreeBit(off)
        }
    }

    /// The free ids below the never-used ones, ascending.
    private var freedIDs: [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(freeBelowNext)
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                out.append(first + UInt32(w << 6 | bits.trailingZeroBitCount))
                bits &= bits - 1
            }
        }
        return out
    }

    /// Whether the two allocators have the same range, the same lowest never-used id and the same
    /// freed ids below it (internal hints and bitmap capacity are ignored).
    public static func == (a: IdAllocator, b: IdAllocator) -> Bool {
        a.first == b.first && a.last == b.last && a.next == b.next && a.freedIDs == b.freedIDs
    }

    /// Hashes what ``==(_:_:)`` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(first)
        hasher.combine(last)
        hasher.combine(next)
        hasher.combine(freedIDs)
    }
}

extension IdAllocator: Codable {
    private enum CodingKeys: String, CodingKey { case first, last, next, free }

    /// Encodes the range, the lowest never-used id and the free ids below it (ascending).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(first, forKey: .first)
        try c.encode(last, forKey: .last)
        try c.encode(UInt64(first) + next, forKey: .next)
        try c.encode(freedIDs, forKey: .free)
    }

    /// Decodes and validates: `first <= next <= last + 1`, free ids unique, inside the
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
        self.next = next - UInt64(first)
        for id in free {
            guard let off = offset(id), off < self.next, !isFreeBit(off) else {
                throw DecodingError.dataCorruptedError(forKey: .free, in: c, debugDescription: "invalid free id \(id)")
            }
            setFreeBit(off)
        }
    }
}
