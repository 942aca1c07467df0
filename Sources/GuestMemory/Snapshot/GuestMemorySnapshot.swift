import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Saving guest memory to a file and restoring it into a fresh map.
///
/// File format (all integers little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `SVMMGMEM` |
/// | 8 | 4 | version, 1 |
/// | 12 | 4 | flags: bit 0 set when only some pages are stored (a dirty-page snapshot) |
/// | 16 | 4 | region count R |
/// | 20 | 4 | extent count E |
/// | 24 | 8 | data offset (4 KiB aligned) |
/// | 32 | 24·R | regions: guest base u64, size u64, memory slot u32, reserved u32 |
/// | … | 24·E | extents: guest address u64, length u64, file offset u64 |
///
/// Extents are whole 4 KiB pages. Extent data is copied straight between guest memory and the
/// file (`pwritev`/`preadv`).
/// Every field read back is validated against the file size and the target map before use.
public enum GuestMemorySnapshot {
    /// What to store.
    public enum Content: Sendable {
        /// Every byte of every region.
        case all
        /// Only these 4 KiB pages (e.g. from ``GuestMemoryMap/collectDirtyPages(merging:)``);
        /// adjacent pages are stored as one extent.
        case pages([GuestAddress])
    }

    /// A region recorded in a snapshot.
    public struct Region: Hashable, Sendable {
        /// The region's guest addresses.
        public let range: GuestAddressRange
        /// The slot the region occupied.
        public let slot: MemorySlot
    }

    /// A run of guest memory stored in a snapshot.
    public struct Extent: Hashable, Sendable {
        /// The guest addresses stored.
        public let range: GuestAddressRange
        /// Where the bytes are in the file.
        public let fileOffset: UInt64
    }

    /// The table of contents of a snapshot file.
    public struct Header: Sendable {
        /// The memory layout of the map that was saved.
        public let regions: [Region]
        /// The stored runs of memory.
        public let extents: [Extent]
        /// Whether only some pages are stored (restore it on top of an earlier full snapshot).
        public let isPartial: Bool
    }

    static let magic = Array("SVMMGMEM".utf8)
    static let fixedHeaderSize = 32
    static let regionRecordSize = 24
    static let extentRecordSize = 24
    static let maxRegions: UInt64 = 65536

    /// Writes `content` of `map` to `descriptor` from offset 0.
    public static func write(_ map: GuestMemoryMap, to descriptor: FileDescriptor, content: Content = .all)
        throws(GuestMemoryError)
    {
        var runs: [GuestAddressRange] = []
        switch content {
        case .all:
            for e in map.entries { runs.append(try GuestAddressRange(start: e.region.guestBase, count: e.region.size)) }
        case .pages(let pages):
            for page in Set(pages.map { $0.alignedDown(to: DirtyBitmap.pageSize) }).sorted() {
                if let last = runs.last, last.end == page {
                    runs[runs.count - 1] = try GuestAddressRange(
                        start: last.start, count: last.count + DirtyBitmap.pageSize)
                } else {
                    runs.append(try GuestAddressRange(start: page, count: DirtyBitmap.pageSize))
                }
            }
        }
        // Check every run against the map before the file is touched.
        for run in runs {
            try map.withHostSegments(at: run.start, count: Int(run.count), forWriting: false) { _ in ((), 0) }
        }
        let tableEnd = fixedHeaderSize + regionRecordSize * map.count + extentRecordSize * runs.count
        let dataOffset = (UInt64(tableEnd) + DirtyBitmap.pageSize - 1) / DirtyBitmap.pageSize * DirtyBitmap.pageSize

        var header = magic
        var isPartial = false
        if case .pages = content { isPartial = true }
        appendLE(UInt32(1), to: &header)
        appendLE(UInt32(isPartial ? 1 : 0), to: &header)
        appendLE(UInt32(map.count), to: &header)
        appendLE(UInt32(runs.count), to: &header)
        appendLE(dataOffset, to: &header)
        for e in map.entries {
            appendLE(e.region.guestBase.rawValue, to: &header)
            appendLE(e.region.size, to: &header)
            appendLE(e.slot.rawValue, to: &header)
            appendLE(UInt32(0), to: &header)
        }
        var fileOffset = dataOffset
        for run in runs {
            appendLE(run.start.rawValue, to: &header)
            appendLE(run.count, to: &header)
            appendLE(fileOffset, to: &header)
            fileOffset += run.count
        }
        try writeAll(header, to: descriptor, at: 0)
        fileOffset = dataOffset
        for run in runs {
            let n = try map.write(to: descriptor, at: Int64(fileOffset), from: run.start, count: Int(run.count))
            if n != Int(run.count) { throw .unexpectedEndOfFile(expected: Int(run.count), transferred: n) }
            fileOffset += run.count
        }
        guard ftruncate(descriptor.rawValue, off_t(fileOffset)) == 0 else {
            throw .system("ftruncate", SystemCall.errno)
        }
    }

    /// Reads and validates the table of contents of the snapshot in `descriptor`.
    ///
    /// - Throws: ``GuestMemoryError/invalidSnapshot(_:)`` when the file is not a snapshot, its
    ///   counts do not fit in the file, or an extent or region is malformed.
    public static func readHeader(from descriptor: FileDescriptor) throws(GuestMemoryError) -> Header {
        var st = stat()
        guard fstat(descriptor.rawValue, &st) == 0 else { throw .system("fstat", SystemCall.errno) }
        let fileSize = UInt64(max(st.st_size, 0))
        let fixed = try readBytes(from: descriptor, at: 0, count: fixedHeaderSize, fileSize: fileSize)
        guard Array(fixed[0..<8]) == magic else { throw .invalidSnapshot("bad magic") }
        guard loadLE(UInt32.self, fixed, 8) == 1 else {
            throw .invalidSnapshot("unsupported version \(loadLE(UInt32.self, fixed, 8))")
        }
        let flags = loadLE(UInt32.self, fixed, 12)
        let regionCount = UInt64(loadLE(UInt32.self, fixed, 16))
        let extentCount = UInt64(loadLE(UInt32.self, fixed, 20))
        let dataOffset = loadLE(UInt64.self, fixed, 24)
        // Counts are at most 2^32 each, so this cannot overflow; it must fit in the file.
        let tableEnd =
            UInt64(fixedHeaderSize) + UInt64(regionRecordSize) * regionCount + UInt64(extentRecordSize) * extentCount
        guard tableEnd <= fileSize, dataOffset >= tableEnd, dataOffset <= fileSize else {
            throw .invalidSnapshot(
                "tables (\(regionCount) regions, \(extentCount) extents) do not fit in the \(fileSize)-byte file")
        }
        // Every extent holds at least one page of data, and a map has at most 65536 regions,
        // so the tables read below stay a small fraction of the file.
        guard regionCount <= maxRegions, extentCount <= (fileSize - dataOffset) / DirtyBitmap.pageSize else {
            throw .invalidSnapshot("\(regionCount) regions and \(extentCount) extents are more than the file can hold")
        }
        let table = try readBytes(
            from: descriptor, at: UInt64(fixedHeaderSize), count: Int(tableEnd) - fixedHeaderSize, fileSize: fileSize)
        var regions: [Region] = []
        for i in 0..<Int(regionCount) {
            let at = i * regionRecordSize
            let base = loadLE(UInt64.self, table, at)
            let size = loadLE(UInt64.self, table, at + 8)
            guard size > 0, let range = try? GuestAddressRange(start: GuestAddress(base), count: size) else {
                throw .invalidSnapshot("region \(i) at 0x\(String(base, radix: 16)) of \(size) bytes is empty or wraps")
            }
            regions.append(Region(range: range, slot: MemorySlot(loadLE(UInt32.self, table, at + 16))))
        }
        var extents: [Extent] = []
        for i in 0..<Int(extentCount) {
            let at = Int(regionCount) * regionRecordSize + i * extentRecordSize
            let guest = loadLE(UInt64.self, table, at)
            let length = loadLE(UInt64.self, table, at + 8)
            let offset = loadLE(UInt64.self, table, at + 16)
            guard length > 0, length % DirtyBitmap.pageSize == 0, guest % DirtyBitmap.pageSize == 0,
                let range = try? GuestAddressRange(start: GuestAddress(guest), count: length),
                offset >= dataOffset, offset <= fileSize, length <= fileSize - offset
            else {
                throw .invalidSnapshot(
                    "extent \(i) (\(length) bytes at file offset \(offset)) is empty, not page-aligned, wraps or lies outside the file"
                )
            }
            extents.append(Extent(range: range, fileOffset: offset))
        }
        return Header(regions: regions, extents: extents, isPartial: flags & 1 != 0)
    }

    /// Copies every extent of the snapshot in `descriptor` into `memory`.
    ///
    /// All extents are checked against `memory` before any byte is copied.
    public static func restore(from descriptor: FileDescriptor, into memory: some GuestMemoryAccess)
        throws(GuestMemoryError)
    {
        let header = try readHeader(from: descriptor)
        for extent in header.extents {
            try memory.withHostSegments(at: extent.range.start, count: Int(extent.range.count), forWriting: true) { _ in
                ((), 0)
            }
        }
        for extent in header.extents {
            try memory.readExactly(
                from: descriptor, at: Int64(extent.fileOffset), into: extent.range.start, count: Int(extent.range.count)
            )
        }
    }

    /// Creates a fresh map with the saved layout (one ``MmapRegion`` per saved region, in the
    /// same slot, each made with `options`) and restores the snapshot into it.
    public static func restore(from descriptor: FileDescriptor, options: MmapRegionOptions = .init())
        throws(GuestMemoryError) -> GuestMemoryMap
    {
        let header = try readHeader(from: descriptor)
        var entries: [GuestMemoryMap.Entry] = []
        for r in header.regions {
            entries.append(
                GuestMemoryMap.Entry(
                    slot: r.slot,
                    region: try MmapRegion(guestBase: r.range.start, size: r.range.count, options: options)))
        }
        let map = try GuestMemoryMap(entries: entries)
        try restore(from: descriptor, into: map)
        return map
    }

    // MARK: Little-endian fields and plain file I/O

    static func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func loadLE<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        var value: T = 0
        for i in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[offset + i]) }
        return value
    }

    static func writeAll(_ bytes: [UInt8], to descriptor: FileDescriptor, at offset: Int64) throws(GuestMemoryError) {
        do {
            _ = try bytes.withUnsafeBytes { try descriptor.writeAll(toAbsoluteOffset: offset, $0) }
        } catch {
            throw .system("pwrite", error as? Errno ?? .ioError)
        }
    }

    /// Reads exactly `count` bytes at `offset`, after checking they lie inside the file.
    static func readBytes(from descriptor: FileDescriptor, at offset: UInt64, count: Int, fileSize: UInt64)
        throws(GuestMemoryError) -> [UInt8]
    {
        guard offset <= fileSize, UInt64(count) <= fileSize - offset else {
            throw .invalidSnapshot("file is too short (\(fileSize) bytes)")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n: Int
            do {
                n = try bytes.withUnsafeMutableBytes {
                    try descriptor.read(
                        fromAbsoluteOffset: Int64(offset) + Int64(done),
                        into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]))
                }
            } catch {
                throw .system("pread", error as? Errno ?? .ioError)
            }
            if n == 0 { throw .unexpectedEndOfFile(expected: count, transferred: done) }
            done += n
        }
        return bytes
    }
}
