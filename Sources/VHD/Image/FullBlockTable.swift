import BlockStorage
import Synchronization

/// The blocks of a dynamic or differencing image whose every sector is stored in the file,
/// with the file offset of their data, readable without taking the image's lock.
///
/// Reads and writes of such blocks touch no metadata, so their fast path is one atomic load
/// here and the `pread`/`pwrite`. The table is written only under the image's lock, through
/// ``SparseState/store(_:for:)``, which keeps it equal to "the cached bitmap
/// has every bit set". A block leaves the table (discard, compact) before its data moves or
/// is released, so a reader that raced the change reads either the old data or the new.
final class FullBlockTable: @unchecked Sendable {
    // Sendable: every element is an atomic; the pointer itself never changes after init and
    // is released only in deinit.
    private let entries: UnsafeMutablePointer<Atomic<UInt64>>
    /// Number of blocks (the BAT's entry count).
    let count: Int

    init(count: Int) {
        self.count = count
        entries = .allocate(capacity: count)
        for i in 0..<count { (entries + i).initialize(to: Atomic(0)) }
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
    }

    /// The file offset of the data of `block` when every sector of it is stored here.
    @inline(__always)
    func dataOffset(_ block: Int) -> UInt64? {
        precondition(block >= 0 && block < count, "block index outside the BAT")
        let value = entries[block].load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// Records `block` as full with its data at `offset` (never 0: data follows a bitmap), or
    /// as not full with nil.
    func set(_ block: Int, dataOffset offset: UInt64?) {
        precondition(block >= 0 && block < count, "block index outside the BAT")
        entries[block].store(offset ?? 0, ordering: .releasing)
    }

    /// Records every block as not full.
    func clearAll() {
        for i in 0..<count { entries[i].store(0, ordering: .releasing) }
    }
}
