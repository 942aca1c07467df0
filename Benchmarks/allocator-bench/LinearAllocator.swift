import ResourceAllocator

/// The baseline: free ranges in a sorted array, searched by walking them in address
/// order (rust-vmm vm-allocator's approach: first/last match iterate the ranges).
struct LinearAllocator {
    private var free: [(start: UInt64, end: UInt64)]

    init(start: UInt64, end: UInt64) { free = [(start, end)] }

    mutating func allocate(size: UInt64, alignment: UInt64, policy: AllocationPolicy) -> UInt64? {
        let mask = alignment - 1
        var chosen: (index: Int, address: UInt64)?
        switch policy {
        case .firstFit:
            for i in free.indices {
                let a = (free[i].start + mask) & ~mask
                if a + size <= free[i].end { chosen = (i, a); break }
            }
        case .lastFit:
            for i in free.indices.reversed() where free[i].end - free[i].start >= size {
                let a = (free[i].end - size) & ~mask
                if a >= free[i].start { chosen = (i, a); break }
            }
        case .bestFit:
            var best = UInt64.max
            for i in free.indices where free[i].end - free[i].start < best {
                let a = (free[i].start + mask) & ~mask
                if a + size <= free[i].end { chosen = (i, a); best = free[i].end - free[i].start }
            }
        case .exact:
            return nil
        }
        guard let (i, a) = chosen else { return nil }
        let r = free[i]
        var pieces: [(start: UInt64, end: UInt64)] = []
        if a > r.start { pieces.append((r.start, a)) }
        if a + size < r.end { pieces.append((a + size, r.end)) }
        free.replaceSubrange(i...i, with: pieces)
        return a
    }

    mutating func free(start: UInt64, size: UInt64) {
        // Binary search for the insertion point, then merge with neighbours.
        var lo = 0, hi = free.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if free[mid].start < start { lo = mid + 1 } else { hi = mid }
        }
        free.insert((start, start + size), at: lo)
        if lo + 1 < free.count, free[lo + 1].start == free[lo].end {
            free[lo].end = free[lo + 1].end
            free.remove(at: lo + 1)
        }
        if lo > 0, free[lo - 1].end == free[lo].start {
            free[lo - 1].end = free[lo].end
            free.remove(at: lo)
        }
    }
}
