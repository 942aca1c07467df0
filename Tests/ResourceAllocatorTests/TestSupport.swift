import HostSupport

@testable import ResourceAllocator

typealias SeededGenerator = SplitMix64

/// An obviously-correct address allocator: a sorted array of free ranges scanned in full
/// on every request. Same documented semantics and error order as `AddressAllocator`.
struct NaiveAddressAllocator {
    let space: AddressRange
    var free: [(start: UInt64, end: UInt64)]
    var allocations: [UInt64: UInt64] = [:]

    init(space: AddressRange) {
        self.space = space
        free = [(space.start, space.end)]
    }

    static func place(
        _ s0: UInt64, _ e0: UInt64, size: UInt64, mask: UInt64,
        lo: UInt64, hi: UInt64, highest: Bool
    ) -> UInt64? {
        let s = max(s0, lo), e = min(e0, hi)
        if e <= s || e - s < size { return nil }
        if highest {
            let a = (e - size) / (mask + 1) * (mask + 1)
            return a >= s ? a : nil
        }
        // Round up by division, checking overflow the slow way.
        let rem = s % (mask + 1)
        if rem == 0 { return s <= e - size ? s : nil }
        let bump = (mask + 1) - rem
        if s > UInt64.max - bump { return nil }
        let a = s + bump
        return a <= e - size ? a : nil
    }

    mutating func allocate(
        size: UInt64, alignment: UInt64, policy: AllocationPolicy,
        within constraint: AddressRange?
    ) -> Result<AddressRange, AddressAllocatorError> {
        if size == 0 { return .failure(.zeroSize) }
        if alignment == 0 || alignment.nonzeroBitCount != 1 { return .failure(.invalidAlignment(alignment)) }
        var lo = space.start, hi = space.end
        if let c = constraint {
            if c.size == 0 { return .failure(.zeroSize) }
            if c.start < space.start || c.end > space.end { return .failure(.outsideSpace(c)) }
            lo = c.start; hi = c.end
        }
        let mask = alignment - 1
        var chosen: (index: Int, address: UInt64)?
        switch policy {
        case .exact(let a):
            if a % alignment != 0 { return .failure(.misaligned(address: a, alignment: alignment)) }
            guard let wanted = AddressRange(start: a, size: size) else { return .failure(.overflow) }
            if wanted.start < lo || wanted.end > hi { return .failure(.outsideSpace(wanted)) }
            guard let i = free.firstIndex(where: { $0.start <= a && wanted.end <= $0.end }) else {
                return .failure(.overlapsAllocation(wanted))
            }
            chosen = (i, a)
        case .firstFit:
            for (i, r) in free.enumerated() {
                if let a = Self.place(r.start, r.end, size: size, mask: mask, lo: lo, hi: hi, highest: false) {
                    chosen = (i, a); break
                }
            }
        case .lastFit:
            for (i, r) in free.enumerated().reversed() {
                if let a = Self.place(r.start, r.end, size: size, mask: mask, lo: lo, hi: hi, highest: true) {
                    chosen = (i, a); break
                }
            }
        case .bestFit:
            var bestLength = UInt64.max
            for (i, r) in free.enumerated() {
                let length = r.end - r.start
                if chosen != nil && length >= bestLength { continue }
                if let a = Self.place(r.start, r.end, size: size, mask: mask, lo: lo, hi: hi, highest: false) {
                    chosen = (i, a); bestLength = length
                }
            }
        }
        guard let (i, a) = chosen else { return .failure(.outOfSpace(size: size, alignment: alignment)) }
        let r = free[i]
        var pieces: [(start: UInt64, end: UInt64)] = []
        if a > r.start { pieces.append((r.start, a)) }
        if a + size < r.end { pieces.append((a + size, r.end)) }
        free.replaceSubrange(i...i, with: pieces)
        allocations[a] = a + size
        return .success(AddressRange(start: a, size: size)!)
    }

    /// Returns the error, or nil on success.
    mutating func free(_ range: AddressRange) -> AddressAllocatorError? {
        guard range.size > 0, allocations[range.start] == range.end else { return .notAllocated(range) }
        allocations[range.start] = nil
        // Re-sort and coalesce the whole list: slow, and obviously right.
        var merged: [(start: UInt64, end: UInt64)] = []
        for r in (free + [(range.start, range.end)]).sorted(by: { $0.start < $1.start }) {
            if let lastEnd = merged.last?.end, lastEnd == r.start {
                merged[merged.count - 1].end = r.end
            } else {
                merged.append(r)
            }
        }
        free = merged
        return nil
    }
}

extension Result where Success == AddressRange {
    var address: AddressRange? { if case .success(let r) = self { return r } else { return nil } }
}
