/// One entry of a KVM-style dirty ring: page `pageOffset` of the region in `slot` was written.
///
/// This is the `slot` and `offset` fields of Linux's `struct kvm_dirty_gfn` (the offset is in
/// 4 KiB pages from the slot's first guest page).
public struct DirtyRingEntry: Hashable, Sendable {
    /// The memory slot, as registered with KVM (``MemorySlot``'s raw value).
    public var slot: MemorySlot
    /// The page number within the slot.
    public var pageOffset: UInt64

    /// An entry for page `pageOffset` of `slot`.
    public init(slot: MemorySlot, pageOffset: UInt64) {
        self.slot = slot
        self.pageOffset = pageOffset
    }
}

/// Dirty pages recorded outside this library — by KVM — for ``GuestMemoryMap/collectDirtyPages(merging:)``.
///
/// GuestMemory does not depend on KVM; a KVM bridge fills this from either mechanism:
///
/// - **Dirty log** (`KVM_GET_DIRTY_LOG`): `bitmaps[slot]` is the slot's bitmap as KVM returns
///   it, as 64-bit words: bit `i` of the bitmap is page `i` of the slot (4 KiB pages), word 0
///   bits 0…63 are pages 0…63. The array may be longer than the slot needs if the extra bits
///   are zero (KVM rounds the bitmap up to 64 pages).
/// - **Dirty ring** (`KVM_CAP_DIRTY_LOG_RING`): one ``DirtyRingEntry`` per harvested
///   `struct kvm_dirty_gfn` (`slot`, `offset`); duplicates are fine.
///
/// Clearing KVM's side (`KVM_CLEAR_DIRTY_LOG` or marking ring entries harvested and
/// `KVM_RESET_DIRTY_RINGS`) stays with the bridge.
public struct ExternalDirtyLog: Sendable {
    /// Dirty-log bitmaps by slot.
    public var bitmaps: [MemorySlot: [UInt64]]
    /// Harvested dirty-ring entries.
    public var ringEntries: [DirtyRingEntry]

    /// A log with the given bitmaps and ring entries (both empty by default).
    public init(bitmaps: [MemorySlot: [UInt64]] = [:], ringEntries: [DirtyRingEntry] = []) {
        self.bitmaps = bitmaps
        self.ringEntries = ringEntries
    }
}

/// Appends `base + i * pageSize` for every set bit `i` of `words` (bit `i % 64` of word `i / 64`).
func appendSetBitPages(_ words: [UInt64], base: GuestAddress, to pages: inout [GuestAddress]) {
    for (w, word) in words.enumerated() {
        var bits = word
        while bits != 0 {
            let page = UInt64(w) * 64 + UInt64(bits.trailingZeroBitCount)
            pages.append(GuestAddress(base.rawValue + page * DirtyBitmap.pageSize))
            bits &= bits - 1
        }
    }
}

extension GuestMemoryMap {
    /// Collects and clears every region's ``DirtyBitmap``, merges in pages from `external`
    /// (KVM's dirty log or dirty ring), and returns the guest address of every dirty 4 KiB page
    /// once, in ascending order.
    ///
    /// `external` is validated before anything is cleared, so a bad log loses no dirty bits.
    ///
    /// - Throws: ``GuestMemoryError/unknownSlot(_:)`` when `external` names a slot not in the
    ///   map; ``GuestMemoryError/dirtyPageOutOfRange(_:page:)`` when it marks a page past the end
    ///   of its slot.
    public func collectDirtyPages(merging external: ExternalDirtyLog = ExternalDirtyLog()) throws(GuestMemoryError)
        -> [GuestAddress]
    {
        var indexBySlot: [MemorySlot: Int] = [:]
        for (i, e) in entries.enumerated() { indexBySlot[e.slot] = i }
        func pageCount(_ i: Int) -> UInt64 { entries[i].region.size / DirtyBitmap.pageSize }

        // Validate, and group ring entries by region.
        for (slot, words) in external.bitmaps {
            guard let i = indexBySlot[slot] else { throw .unknownSlot(slot) }
            let pages = pageCount(i)
            for (w, word) in words.enumerated() where word != 0 {
                let highest = UInt64(w) * 64 + UInt64(63 - word.leadingZeroBitCount)
                if highest >= pages { throw .dirtyPageOutOfRange(slot, page: highest) }
            }
        }
        var ringByRegion: [Int: [UInt64]] = [:]
        for entry in external.ringEntries {
            guard let i = indexBySlot[entry.slot] else { throw .unknownSlot(entry.slot) }
            guard entry.pageOffset < pageCount(i) else {
                throw .dirtyPageOutOfRange(entry.slot, page: entry.pageOffset)
            }
            ringByRegion[i, default: []].append(entry.pageOffset)
        }

        // Merge per region; regions are in address order, so the result is sorted.
        var pages: [GuestAddress] = []
        for (i, entry) in entries.enumerated() {
            let wordCount = Int((pageCount(i) + 63) / 64)
            var words = Array((entry.region.dirtyBitmap?.takeWords() ?? []).prefix(wordCount))
            if words.count < wordCount { words += repeatElement(0, count: wordCount - words.count) }
            if let kvm = external.bitmaps[entry.slot] {
                for (w, word) in kvm.prefix(wordCount).enumerated() { words[w] |= word }
            }
            for page in ringByRegion[i] ?? [] { words[Int(page / 64)] |= 1 << (page % 64) }
            appendSetBitPages(words, base: entry.region.guestBase, to: &pages)
        }
        return pages
    }
}
