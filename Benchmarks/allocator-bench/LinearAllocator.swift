import ResourceAllocator

/// The baseline: free ranges in a sorted array, searched by walking them in address
/// order (rust-vmm vm-allocator's approach: first/last match iterate the ranges).
struct LinearAllocator {
    private var free: [(start: UInt64, end: UInt64)]

    init(start: UInt64, end: UInt64) { free = [(start, end)] }

    mutating func allocate(
        size: UInt64, alignment: UInt64, policy: AllocationPolicy,
        within window: AddressRange? = nil
    ) -> UInt64? {
        let mask = alignment - 1
        var chosen: (index: Int, address: UInt64)?
        precondition(window == nil || policy == .bestFit, "the baseline takes a window for best-fit only")
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
            if let window {
                chosen = bestFit(size: size, mask: mask, within: window)
                break
            }
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

    /// Best-fit inside `window`: binary search to the first range ending past the window's
    /// start, then a walk over the ranges that overlap it (clipped to it).
    private func bestFit(size: UInt64, mask: UInt64, within window: AddressRange) -> (index: Int, address: UInt64)? {
        var chosen: (index: Int, address: UInt64)?
        var best = UInt64.max
        var i = firstIndex { $0.end > window.start }
        while i < free.count, free[i].start < window.end {
            let s = max(free[i].start, window.start), e = min(free[i].end, window.end)
            let a = (s + mask) & ~mask
            if free[i].end - free[i].start < best, a < e, e - a >= size {
                chosen = (i, a)
                best = free[i].end - free[i].start
            }
            i += 1
        }
        return chosen
    }

    /// The first index whose range satisfies `isAfter` (ranges are sorted, so it is monotonic).
    private func firstIndex(_ isAfter: ((start: UInt64, end: UInt64)) -> Bool) -> Int {
        var lo = 0, hi = free.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isAfter(free[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    mutating func free(start: UInt64, size: UInt64) {
        // Binary search for the insertion point, then merge with neighbours.
        let lo = firstIndex { $0.start >= start }
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
