import Synchronization

/// A per-region bitmap of dirty pages, updated with atomic operations so any thread may write
/// guest memory while another collects.
///
/// Bit `i` of the bitmap is page `i` of the region (``pageSize``-byte pages, counted from the
/// region's guest base); word 0 holds pages 0…63 with page 0 in bit 0 — the layout of KVM's
/// `KVM_GET_DIRTY_LOG` bitmap, so the two can be merged word by word.
public final class DirtyBitmap: @unchecked Sendable {
    // @unchecked: `words` is allocated once in init, freed once in deinit, and only ever
    // accessed through atomic operations in between.

    /// The tracking granularity: 4 KiB, the x86 page and KVM's dirty-log page.
    public static let pageSize: UInt64 = 4096

    /// The number of pages the bitmap covers.
    public let pageCount: UInt64
    /// The number of 64-bit words (`pageCount` rounded up to a multiple of 64, divided by 64).
    public let wordCount: Int

    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// A clean bitmap for a region of `byteCount` bytes.
    public init(byteCount: UInt64) {
        pageCount = (byteCount + DirtyBitmap.pageSize - 1) / DirtyBitmap.pageSize
        wordCount = Int((pageCount + 63) / 64)
        words = .allocate(capacity: max(wordCount, 1))
        for i in 0..<max(wordCount, 1) { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: max(wordCount, 1))
        words.deallocate()
    }

    /// Marks every page touched by `count` bytes at byte `offset` of the region. Bytes beyond
    /// the region are ignored.
    @inlinable
    public func mark(offset: UInt64, count: UInt64) {
        guard count > 0, offset < pageCount &* DirtyBitmap.pageSize else { return }
        let first = offset / DirtyBitmap.pageSize
        let (end, overflow) = offset.addingReportingOverflow(count - 1)
        let last = overflow ? pageCount - 1 : min(end / DirtyBitmap.pageSize, pageCount - 1)
        var word = Int(first / 64)
        let lastWord = Int(last / 64)
        while word <= lastWord {
            let lo = word == Int(first / 64) ? first % 64 : 0
            let hi = word == lastWord ? last % 64 : 63
            let mask = (hi == 63 ? UInt64.max : (UInt64(1) << (hi + 1)) - 1) & ~((UInt64(1) << lo) - 1)
            // Skip the read-modify-write (and the cache-line ownership it takes) when already set.
            if words[word].load(ordering: .relaxed) & mask != mask {
                words[word].bitwiseOr(mask, ordering: .relaxed)
            }
            word += 1
        }
    }

    /// Whether page `page` is marked.
    public func isDirty(page: UInt64) -> Bool {
        guard page < pageCount else { return false }
        return words[Int(page / 64)].load(ordering: .relaxed) & (1 << (page % 64)) != 0
    }

    /// Returns the bitmap's words and clears them, each word atomically, so no write is lost
    /// between the read and the clear.
    public func takeWords() -> [UInt64] {
        (0..<wordCount).map { words[$0].exchange(0, ordering: .acquiringAndReleasing) }
    }

    /// The page numbers marked, in ascending order, without clearing them.
    public func dirtyPages() -> [UInt64] {
        var pages: [GuestAddress] = []
        appendSetBitPages((0..<wordCount).map { words[$0].load(ordering: .relaxed) }, base: .zero, to: &pages)
        return pages.map { $0.rawValue / DirtyBitmap.pageSize }
    }
}
