import BlockStorage
import Synchronization

/// A fixed, dynamic or differencing VHD opened as a `BlockDevice`.
///
/// Reads may run concurrently. Writes to sectors already stored in the file run without
/// locking; writes that allocate a block or change a sector bitmap, and flushes, are
/// serialised by one lock. Metadata (BAT entries, bitmaps, trailing footer) is written only
/// at ``flush()``, in an order that keeps the image consistent after a crash at any point
/// (see ARCHITECTURE.md, "VHD crash consistency"). Releasing a writable image flushes it,
/// but errors are lost then: call ``flush()`` yourself when they matter.
public final class VHDImage: BlockDevice {
    /// Always 512 bytes.
    public let logicalSectorSize: Int = 512
    /// The disk size in bytes: the footer's current size.
    public let capacity: UInt64
    /// Whether the image was opened read-only; writes and discards then throw
    /// `BlockDeviceError.readOnly`.
    public let isReadOnly: Bool
    /// The path the image was opened or created with.
    public let path: String
    /// The footer in effect (the trailing one, or the copy at 0 when the trailing one is damaged).
    public let footer: VHDFooter
    /// The dynamic header of a dynamic or differencing disk.
    public let header: VHDDynamicHeader?
    /// The opened parent of a differencing disk.
    public let parent: VHDImage?
    /// The path the parent was found at.
    public let parentPath: String?
    /// Why the parent of a differencing disk could not be opened; set only by
    /// ``openForInspection(path:locking:)``, whose reads of sectors not stored in this file then fail
    /// with `BlockDeviceError.parentUnavailable(_:)`.
    public let parentError: VHDError?
    /// Problems found while opening that did not prevent it (e.g. a damaged trailing footer).
    public let openProblems: [VHDProblem]
    /// The file beneath the image.
    public let io: any ImageIO
    /// The descriptor of `io` when it is a `FileImageIO` (else -1): the read fast path
    /// calls `pread` on it directly rather than through the existential. `io` owns it.
    let fileDescriptor: Int32

    /// The disk type.
    public let diskType: VHDDiskType
    /// Bytes per block (0 for a fixed disk).
    public let blockSize: UInt64
    /// Sectors per block (0 for a fixed disk).
    let sectorsPerBlock: Int
    /// log2 of ``blockSize`` (a power of two, checked on open), so the data path shifts
    /// instead of dividing.
    let blockShift: UInt64

    let bitmapSize: UInt64
    let footerBytes: [UInt8]
    /// The end of the footer copy, header, BAT and locators.
    let metadataEnd: UInt64
    /// The file ranges of the footer copy, header, BAT and locators.
    let metadataRanges: [Range<UInt64>]
    let state: Mutex<SparseState>
    /// Blocks stored in full, looked up without the lock (the read and write fast path).
    let fullBlocks: FullBlockTable
    /// ``dataAlignment``: the opener's choice, not part of the image's state.
    private let dataAlignmentSetting: Atomic<UInt64>

    init(
        io: any ImageIO, path: String, readOnly: Bool, inspection: Inspection, parent: VHDImage?, parentPath: String?,
        parentError: VHDError? = nil
    ) {
        self.io = io
        self.fileDescriptor = (io as? FileImageIO)?.descriptor ?? -1
        self.path = path
        self.isReadOnly = readOnly
        self.footer = inspection.footer
        self.header = inspection.header
        self.diskType = inspection.footer.diskType
        self.blockSize = UInt64(inspection.header?.blockSize ?? 0)
        self.sectorsPerBlock = Int(inspection.header?.blockSize ?? 0) / 512
        self.blockShift = UInt64((inspection.header?.blockSize ?? 1).trailingZeroBitCount)
        self.capacity = inspection.footer.currentSize
        self.parent = parent
        self.parentPath = parentPath
        self.parentError = parentError
        self.openProblems = inspection.problems
        self.bitmapSize = inspection.bitmapSize
        self.footerBytes = inspection.footer.serialized()
        self.metadataEnd = alignUp(inspection.metadataEnd, 512)
        self.metadataRanges = inspection.metadata
        self.dataAlignmentSetting = Atomic(
            Self.defaultDataAlignment(blockSize: UInt64(inspection.header?.blockSize ?? 0)))
        let fullBlocks = FullBlockTable(count: inspection.bat.count)
        self.fullBlocks = fullBlocks
        self.state = Mutex(
            SparseState(
                bat: inspection.bat, fullBlocks: fullBlocks, bitmapSize: inspection.bitmapSize,
                sectorsPerBlock: Int(inspection.header?.blockSize ?? 0) / 512, nextFree: inspection.dataEnd,
                trailingFooterAt: inspection.trailingFooterOffset.flatMap { $0 >= inspection.dataEnd ? $0 : nil },
                fileSize: inspection.fileSize,
                footerCopyStale: inspection.problems.contains { $0.repair == .restoreFooterCopy }))
    }

    deinit {
        if !isReadOnly { try? flush() }
    }

    // MARK: Opening

    /// Opens the VHD at `path`, validating every structure; a differencing disk's parents are
    /// opened read-only through its locators.
    ///
    /// The file is locked as `locking` says (BlockStorage's `ImageLocking`, QEMU-compatible):
    /// by default a writable image exclusively, a read-only one shared, and every parent shared
    /// for as long as the image is open, so no other writer can change the chain under it.
    ///
    /// - Throws: ``VHDError/device(_:)`` with `BlockDeviceError.locked` when the image or a
    ///   parent is in use by a conflicting open (in this process or another); the format
    ///   errors of ``VHDError`` when a structure is invalid.
    public static func open(path: String, readOnly: Bool = false, locking: ImageLocking = .automatic)
        throws(VHDError) -> VHDImage
    {
        try open(path: path, readOnly: readOnly, visited: [], locking: locking)
    }

    /// Opens a VHD on an arbitrary `ImageIO` (for instance a fault-injecting one in tests).
    /// `path` names the image in messages and is the base for relative parent locators.
    public static func open(io: any ImageIO, path: String, readOnly: Bool = false) throws(VHDError) -> VHDImage {
        try open(io: io, path: path, readOnly: readOnly, visited: [])
    }

    /// Opens the VHD at `path` read-only for inspection (`vhd info`, `vhd map`): the image's
    /// own structures are validated as by ``open(path:readOnly:locking:)``, but a differencing disk
    /// whose parent is missing, mismatched or damaged still opens, with the reason in
    /// ``parentError`` and ``parent`` nil. Its own metadata and stored extents can be read;
    /// reading a sector that is not stored in the file is an error, never zeros. A parent
    /// found this way is opened the same way, so a break further up the chain shows there.
    /// `locking` as for ``open(path:readOnly:locking:)`` (`.forceShare` to inspect an image a
    /// VM is writing).
    public static func openForInspection(path: String, locking: ImageLocking = .automatic) throws(VHDError)
        -> VHDImage
    {
        try open(path: path, readOnly: true, visited: [], detached: true, locking: locking)
    }

    /// ``openForInspection(path:locking:)`` on an arbitrary `ImageIO`.
    public static func openForInspection(io: any ImageIO, path: String) throws(VHDError) -> VHDImage {
        try open(io: io, path: path, readOnly: true, visited: [], detached: true)
    }

    /// `detached`: a parent that cannot be opened is recorded in ``parentError`` rather than
    /// thrown (only for read-only inspection). `parentGiven`: the parent, already open (a
    /// commit opens it writable first), instead of one found through the locators.
    static func open(
        path: String, readOnly: Bool, visited: Set<FileIdentity>, detached: Bool = false,
        locking: ImageLocking = .automatic, parentGiven: (image: VHDImage, path: String)? = nil
    ) throws(VHDError) -> VHDImage {
        // A cycle is found before the lock: a chain that loops back to an image opened
        // writable further down must say so, not that the image is in use.
        if let identity = FileIdentity(path: path), visited.contains(identity) { throw .parentCycle(path: path) }
        let file = try lifting { () throws(BlockDeviceError) in
            try FileImageIO(path: path, readOnly: readOnly, locking: locking)
        }
        let identity = try lifting { () throws(BlockDeviceError) in try file.identity() }
        if visited.contains(identity) { throw .parentCycle(path: path) }
        return try open(
            io: file, path: path, readOnly: readOnly, visited: visited.union([identity]), detached: detached,
            locking: locking, parentGiven: parentGiven)
    }

    static func open(
        io: any ImageIO, path: String, readOnly: Bool, visited: Set<FileIdentity>, detached: Bool = false,
        locking: ImageLocking = .automatic, parentGiven: (image: VHDImage, path: String)? = nil
    ) throws(VHDError) -> VHDImage {
        let inspection = try inspect(io, mode: .open)
        var parent: VHDImage?
        var parentPath: String?
        var parentError: VHDError?
        if inspection.footer.diskType == .differencing, let header = inspection.header {
            do {
                let found: (image: VHDImage, path: String)
                if let parentGiven {
                    found = parentGiven
                } else {
                    found = try ParentLink.open(
                        for: header, io: io, childPath: path, visited: visited, detached: detached && readOnly,
                        locking: locking)
                }
                parent = found.image
                parentPath = found.path
            } catch {
                guard detached, readOnly else { throw error }
                parentError = error
            }
        }
        return VHDImage(
            io: io, path: path, readOnly: readOnly, inspection: inspection, parent: parent, parentPath: parentPath,
            parentError: parentError)
    }

    // MARK: Helpers shared by the data path and maintenance

    /// The disk data of `block` starts this many bytes into the file.
    @inline(__always)
    func dataOffset(ofBlockAt entry: UInt32) -> UInt64 { blockDataOffset(entry, bitmapSize: bitmapSize) }

    /// Writes the BAT sectors holding the given sector indices (all when nil).
    func writeBAT(_ bat: [UInt32], header: VHDDynamicHeader, sectors: Set<Int>?) throws(BlockDeviceError) {
        let count = Int(header.tableSize / 512)
        for batSector in (sectors.map { $0.sorted() } ?? Array(0..<count)) where batSector < count {
            let first = batSector * 128
            var bytes = [UInt8](repeating: 0xFF, count: 512)
            for i in first..<min(first + 128, bat.count) { bytes.setBE32(bat[i], at: (i - first) * 4) }
            try io.writeBytes(bytes, at: header.tableOffset + UInt64(batSector) * 512)
        }
    }

    /// Changes fields of the dynamic header's first sector in place: reads the header as the
    /// file holds it, lets `change` set fields in its first 512 bytes, recomputes the checksum
    /// (over all 1024 bytes; the second sector stays byte for byte as it is, whatever a
    /// re-serialisation would make of it) and writes that one sector — a crash leaves the old
    /// header or the new one. Not synced.
    func rewriteHeaderFirstSector(_ change: (inout [UInt8]) -> Void) throws(BlockDeviceError) {
        var bytes = try io.readBytes(at: footer.dataOffset, count: VHDDynamicHeader.size)
        change(&bytes)
        bytes.setBE32(
            vhdChecksum(bytes, checksumOffset: VHDDynamicHeader.checksumOffset), at: VHDDynamicHeader.checksumOffset)
        try io.writeBytes(Array(bytes[0..<512]), at: footer.dataOffset)
    }

    /// The current BAT (allocations made since the last flush included).
    public var blockAllocationTable: [UInt32] { state.withLock { $0.bat } }

    /// The file alignment of block data unless ``setDataAlignment(_:)`` says otherwise: an
    /// eighth of the block size, at least 4 KiB and at most 256 KiB — 256 KiB for the usual
    /// 2 MiB blocks, so padding stays under 12.5 % of the apparent file size.
    public static func defaultDataAlignment(blockSize: UInt64) -> UInt64 {
        min(max(blockSize / 8, 4096), 256 << 10)
    }

    /// The file alignment of the data of blocks this object places from now on (and of
    /// blocks `compact` moves): ``defaultDataAlignment(blockSize:)`` unless set. Not stored
    /// in the file; each opener chooses, and blocks placed earlier keep their place.
    public var dataAlignment: UInt64 { dataAlignmentSetting.load(ordering: .relaxed) }

    /// Sets ``dataAlignment``: a power of two from 512 bytes to the block size.
    ///
    /// Larger alignments trade apparent file size for page-cache speed: every block is
    /// preceded by its bitmap, so each one costs up to one alignment unit of padding, never
    /// written (a hole: apparent size only, no space allocated). With 2 MiB blocks on Linux
    /// with large folios, the default 256 KiB makes reads and overwrites of the data as fast
    /// as on a raw file for at most 12.5 % more apparent size; 4 KiB (what QEMU and blktap
    /// produce) keeps padding under 0.2 % and costs about 5–10 % there, because the page
    /// cache then holds the data in smaller folios (`vhd-bench --data-alignment`).
    public func setDataAlignment(_ alignment: UInt64) throws(VHDError) {
        guard alignment >= 512, alignment & (alignment - 1) == 0, diskType == .fixed || alignment <= blockSize else {
            throw .invalidRequest(
                "data alignment must be a power of two from 512 bytes to the block size, not \(alignment)")
        }
        dataAlignmentSetting.store(alignment, ordering: .relaxed)
    }
}

/// The mutable state of a dynamic or differencing image, guarded by ``VHDImage/state``.
struct SparseState: Sendable {
    /// The BAT, including blocks allocated since the last flush.
    var bat: [UInt32]
    /// Blocks allocated since the last flush (their BAT entries are not on disk yet, nor their
    /// bitmaps unless in ``newBitmapsWritten``).
    var newBlocks: Set<Int> = []
    /// New blocks whose cached bitmap is already in the file: written when the block became
    /// full, so that write-behind carries it and the flush need not. Any later change of the
    /// bitmap (``store(_:for:)``) takes the block out again.
    var newBitmapsWritten: Set<Int> = []
    /// Blocks whose BAT entries changed otherwise (freed by discard or compact).
    var dirtyBAT: Set<Int> = []
    /// Cached sector bitmaps.
    var bitmaps: [Int: SectorBitmap] = [:]
    /// Blocks known to have every sector stored here (the fast path of reads and writes),
    /// shared with ``VHDImage/fullBlocks`` and written only through ``store(_:for:)``.
    let fullBlocks: FullBlockTable
    /// The image's block geometry (constants), for ``store(_:for:)``.
    let bitmapSize: UInt64
    let sectorsPerBlock: Int
    /// Committed blocks whose cached bitmap differs from the one on disk.
    var dirtyBitmaps: Set<Int> = []
    /// Where the next block goes: the end of all metadata and blocks.
    var nextFree: UInt64
    /// Where a valid trailing footer is on disk (nil when it must be rewritten).
    var trailingFooterAt: UInt64?
    /// The file size as last seen or set.
    var fileSize: UInt64
    /// Whether stale bytes past ``nextFree`` have been cut off before the first allocation.
    var tailTrimmed = false
    /// Whether the footer copy at offset 0 is damaged or differs from the footer in effect.
    /// A crash between the first allocation and the next flush leaves no trailing footer, and
    /// the copy must then stand in for it: the first allocation rewrites it first.
    var footerCopyStale: Bool

    init(
        bat: [UInt32], fullBlocks: FullBlockTable, bitmapSize: UInt64, sectorsPerBlock: Int, nextFree: UInt64,
        trailingFooterAt: UInt64?, fileSize: UInt64,
        footerCopyStale: Bool = false
    ) {
        self.footerCopyStale = footerCopyStale
        self.bat = bat
        self.fullBlocks = fullBlocks
        self.bitmapSize = bitmapSize
        self.sectorsPerBlock = sectorsPerBlock
        self.nextFree = nextFree
        self.trailingFooterAt = trailingFooterAt
        self.fileSize = fileSize
    }

    /// Caches (or forgets, with nil) the bitmap of `block` and updates its entry in
    /// ``fullBlocks`` from it and the current BAT entry (so set the BAT entry first).
    mutating func store(_ bitmap: SectorBitmap?, for block: Int) {
        bitmaps[block] = bitmap
        if !newBitmapsWritten.isEmpty { newBitmapsWritten.remove(block) }
        let full = bitmap?.allSet(0..<sectorsPerBlock) ?? false
        fullBlocks.set(
            block,
            dataOffset: full && bat[block] != unallocatedBlock
                ? blockDataOffset(bat[block], bitmapSize: bitmapSize) : nil)
    }

    var isDirty: Bool { !newBlocks.isEmpty || !dirtyBAT.isEmpty || !dirtyBitmaps.isEmpty }
}

/// The file offset of the data of the block whose BAT entry is `entry`: right after its bitmap.
@inline(__always)
func blockDataOffset(_ entry: UInt32, bitmapSize: UInt64) -> UInt64 { UInt64(entry) * 512 + bitmapSize }

/// The first place at or after `start` for a block whose data, after its `bitmapSize`-byte
/// bitmap, starts on an `alignment` boundary.
func alignedBlockStart(_ start: UInt64, bitmapSize: UInt64, alignment: UInt64) -> UInt64 {
    let misalignment = (start + bitmapSize) % alignment
    return misalignment == 0 ? start : start + alignment - misalignment
}
