import Synchronization

/// The objects a ``ReaderDomain`` keeps for readers that may still use them.
struct RetireList: ~Copyable {
    /// Retired objects with the epoch before their retirement advanced it: a reader whose access
    /// or section began at or before that epoch may hold the object.
    var entries: [(epoch: UInt64, object: any AnyObject & Sendable)] = []
    /// With asymmetric barriers: the highest epoch whose objects a process-wide barrier has
    /// covered (every reader that could hold them has its record visible). Entries above it are
    /// not released yet — their writer will, after its barrier.
    var fencedThrough: UInt64 = 0
}

extension ReaderDomain {
    /// Takes over `object` (just swapped out of a pointer that readers load inside accesses and
    /// sections) and releases it once no reader can be using it: now, if no reader that began
    /// before the swap is still reading, or else when the last of them ends. Never waits.
    func retire(_ object: any AnyObject & Sendable) {
        retired.withLock { list in
            let tag = epoch.add(1, ordering: .sequentiallyConsistent).oldValue
            list.entries.append((tag, object))
            // Before the barrier below: a reader that ends after it sees the count.
            pending.store(list.entries.count, ordering: .sequentiallyConsistent)
        }
        if asymmetric {
            // Every swap that advanced the epoch up to `through` happened before this barrier, so
            // afterwards the record of every reader that loaded a swapped-out pointer is visible.
            let through = epoch.load(ordering: .sequentiallyConsistent) &- 1
            ProcessMemoryBarrier.run()
            reclaim(fencedThrough: through)
        } else {
            reclaim()
        }
    }

    /// Releases the retired objects no reader can be using any more. Called by writers, and by
    /// readers ending an access or their outermost section while ``pending`` is not zero.
    @usableFromInline @inline(never)
    func reclaim() {
        reclaim(fencedThrough: 0)
    }

    private func reclaim(fencedThrough through: UInt64) {
        let released: [any AnyObject & Sendable] = retired.withLock { list in
            list.fencedThrough = max(list.fencedThrough, through)
            guard !list.entries.isEmpty else { return [] }
            var limit = oldestActiveEpoch()
            if asymmetric { limit = min(limit, list.fencedThrough &+ 1) }
            var released: [any AnyObject & Sendable] = []
            var kept: [(epoch: UInt64, object: any AnyObject & Sendable)] = []
            for entry in list.entries {
                if entry.epoch < limit { released.append(entry.object) } else { kept.append(entry) }
            }
            list.entries = kept
            pending.store(kept.count, ordering: .sequentiallyConsistent)
            return released
        }
        // Dropped here, outside the lock: the last reference to a map may unmap its regions.
        _ = consume released
    }

    /// The epoch the oldest access or section in progress began in: `UInt64.max` when no reader
    /// is reading, 0 when an overflow reader is (it may hold anything).
    private func oldestActiveEpoch() -> UInt64 {
        if overflowReaders.load(ordering: .sequentiallyConsistent) != 0 { return 0 }
        var oldest = UInt64.max
        for index in 0..<capacity {
            // Acquiring (as part of sequentially consistent): a 0 seen here means what the reader
            // did while reading happened before whatever is released next.
            let access = record(index).pointee.access.load(ordering: .sequentiallyConsistent)
            let section = record(index).pointee.section.load(ordering: .sequentiallyConsistent)
            if access != 0 && access < oldest { oldest = access }
            if section != 0 && section < oldest { oldest = section }
        }
        return oldest
    }
}
