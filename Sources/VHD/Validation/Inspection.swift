import BlockStorage

/// The largest disk the format allows (2040 GiB, 0xFF000000 sectors, as Hyper-V and QEMU).
public let maximumVHDSize: UInt64 = 0xFF00_0000 * 512
/// The largest block size accepted (the specification uses 2 MiB; larger blocks are unusual).
let maximumBlockSize: UInt64 = 1 << 30
/// The largest parent locator accepted.
let maximumLocatorLength: UInt64 = 64 << 10

/// The validated layout of a VHD file, produced by ``inspect(_:mode:)`` for both `open` (which
/// stops at the first fatal problem) and `check` (which collects every problem).
struct Inspection: Sendable {
    enum Mode { case open, check }

    var fileSize: UInt64
    var footer: VHDFooter
    /// Where the trailing footer was found, nil when it is damaged and the copy at 0 is used.
    var trailingFooterOffset: UInt64?
    var header: VHDDynamicHeader?
    var bat: [UInt32] = []
    /// File ranges of the footer copy, header, BAT and locators.
    var metadata: [Range<UInt64>] = []
    /// The end of all metadata, locators included.
    var metadataEnd: UInt64 = 0
    /// The end of all metadata and allocated blocks: where the next block goes.
    var dataEnd: UInt64 = 0
    var problems: [VHDProblem] = []

    var blockSize: UInt64 { UInt64(header?.blockSize ?? 0) }
    var bitmapSize: UInt64 { header?.bitmapSize ?? 0 }
}

/// Collects problems; in `open` mode a fatal one is thrown at once.
private struct Findings {
    let mode: Inspection.Mode
    var problems: [VHDProblem] = []

    mutating func add(_ severity: VHDProblem.Severity, _ error: VHDError, repair: VHDProblem.Repair? = nil)
        throws(VHDError)
    {
        if severity == .fatal, mode == .open { throw error }
        problems.append(VHDProblem(severity, error, repair: repair))
    }
}

/// Reads and validates every structure of the VHD in `io`. Nothing is allocated in
/// proportion to a field before the field is checked against the file size.
func inspect(_ io: any ImageIO, mode: Inspection.Mode) throws(VHDError) -> Inspection {
    var findings = Findings(mode: mode)
    let fileSize = try lifting { () throws(BlockDeviceError) in try io.size() }
    guard fileSize >= UInt64(VHDFooter.size) else {
        throw .truncated(structure: "footer", needed: UInt64(VHDFooter.size), fileSize: fileSize)
    }
    if fileSize % 512 != 0 {
        try findings.add(
            .damaged,
            .invalidField(
                field: "file size", value: fileSize, reason: "not a multiple of 512 (\(fileSize % 512)-byte tail)"))
    }

    // Footer: the trailing copy, else (a 511-byte footer of old Virtual PC, else) the copy at 0.
    var footer: VHDFooter
    var trailingOffset: UInt64? = fileSize - 512
    let trailingBytes = try lifting { () throws(BlockDeviceError) in try io.readBytes(at: fileSize - 512, count: 512) }
    do {
        footer = try VHDFooter.parse(trailingBytes)
        // A dynamic or differencing disk keeps a copy of its footer at offset 0, which no guest
        // write reaches. A trailing "footer" naming another image is not this one's: after a
        // crash the file can end in a data sector (an allocation cut the tail, or a new block
        // was written past the old footer), and a guest can write one that parses. It must not
        // choose the disk type or the parent; the copy stands in for it. (A fixed disk has no
        // copy: its offset 0 is guest data, never trusted over the trailing footer.)
        if footer.diskType != .fixed, fileSize >= 1024 {
            let copyBytes = try lifting { () throws(BlockDeviceError) in try io.readBytes(at: 0, count: 512) }
            if let copy = try? VHDFooter.parse(copyBytes, name: "footerCopy"), copy.diskType != .fixed,
                copy.uniqueID != footer.uniqueID
            {
                try findings.add(
                    .damaged,
                    .invalidField(
                        field: "footer.uniqueID", value: 0,
                        reason:
                            "the trailing footer names image \(footer.uniqueID), the footer copy \(copy.uniqueID): "
                            + "the last sector is not this image's footer"),
                    repair: .restoreTrailingFooter)
                footer = copy
                trailingOffset = nil
            }
        }
    } catch let trailingError {
        var recovered: VHDFooter?
        if fileSize % 512 == 511 {
            let short = try lifting { () throws(BlockDeviceError) in try io.readBytes(at: fileSize - 511, count: 511) }
            if let f = try? VHDFooter.parse(short + [0]) {
                recovered = f
                trailingOffset = fileSize - 511
            }
        }
        if recovered == nil, fileSize >= 1024 {
            let copyBytes = try lifting { () throws(BlockDeviceError) in try io.readBytes(at: 0, count: 512) }
            if let copy = try? VHDFooter.parse(copyBytes, name: "footerCopy"), copy.diskType != .fixed {
                recovered = copy
                trailingOffset = nil
                try findings.add(.damaged, trailingError, repair: .restoreTrailingFooter)
            }
        }
        guard let found = recovered else { throw trailingError }
        footer = found
    }

    var result = Inspection(fileSize: fileSize, footer: footer, trailingFooterOffset: trailingOffset)
    let sizeField = "footer.currentSize"
    if footer.formatVersion >> 16 != 1 {
        try findings.add(
            .fatal,
            .invalidField(
                field: "footer.formatVersion", value: UInt64(footer.formatVersion), reason: "unsupported major version")
        )
    }
    if footer.features & 2 == 0 {
        try findings.add(
            .notice,
            .invalidField(
                field: "footer.features", value: UInt64(footer.features), reason: "reserved bit 0x2 should be set"))
    }
    if footer.currentSize % 512 != 0 {
        try findings.add(
            .fatal, .invalidField(field: sizeField, value: footer.currentSize, reason: "not a multiple of 512"))
    }
    if footer.currentSize > maximumVHDSize {
        try findings.add(
            .fatal,
            .invalidField(
                field: sizeField, value: footer.currentSize,
                reason: "larger than the format's maximum of \(maximumVHDSize) bytes (2040 GiB)"))
    }
    let expectedGeometry = DiskGeometry.forSectorCount(footer.currentSize / 512)
    if footer.geometry != expectedGeometry {
        // QEMU and Virtual PC write the geometry their size was rounded to, QEMU's force_size
        // the maximum geometry; the current size rules, so this is harmless.
        try findings.add(
            .notice,
            .invalidField(
                field: "footer.geometry", value: footer.geometry.sectorCount,
                reason:
                    "\(footer.geometry) differs from \(expectedGeometry), the specification's geometry for the current size"
            ))
    }

    if footer.diskType == .fixed {
        let footerAt = trailingOffset ?? fileSize
        if footer.currentSize > footerAt {
            try findings.add(
                .fatal,
                .invalidField(
                    field: sizeField, value: footer.currentSize,
                    reason:
                        "a fixed disk of this size needs its data and a 512-byte footer, the file has \(fileSize) bytes"
                ))
        } else if footer.currentSize < footerAt {
            try findings.add(
                .notice,
                .invalidField(
                    field: sizeField, value: footer.currentSize,
                    reason: "the file holds \(footerAt - footer.currentSize) bytes more than the disk"))
        }
        if footer.dataOffset != VHDFooter.noDataOffset, footer.dataOffset != 0xFFFF_FFFF {
            try findings.add(
                .notice,
                .invalidField(
                    field: "footer.dataOffset", value: footer.dataOffset, reason: "should be all ones for a fixed disk")
            )
        }
        result.dataEnd = min(footer.currentSize, footerAt)
        result.problems = findings.problems
        return result
    }

    // The footer copy at offset 0 must match the trailing footer, field by field (bytes a
    // parse does not keep, and so the checksum, may differ: a rewrite drops them).
    if trailingOffset != nil {
        let copyBytes = try lifting { () throws(BlockDeviceError) in try io.readBytes(at: 0, count: 512) }
        do {
            let copy = try VHDFooter.parse(copyBytes, name: "footerCopy")
            if copy.serialized() != footer.serialized() {
                try findings.add(
                    .damaged, .invalidField(field: "footerCopy", value: 0, reason: "differs from the trailing footer"),
                    repair: .restoreFooterCopy)
            }
        } catch {
            try findings.add(.damaged, error, repair: .restoreFooterCopy)
        }
    }

    // Dynamic header.
    let headerOffset = footer.dataOffset
    guard headerOffset >= 512, headerOffset <= fileSize, fileSize - headerOffset >= UInt64(VHDDynamicHeader.size) else {
        throw .invalidField(
            field: "footer.dataOffset", value: headerOffset,
            reason: "the dynamic header must lie inside the file (\(fileSize) bytes) after the footer copy")
    }
    if headerOffset % 512 != 0 {
        try findings.add(
            .damaged, .invalidField(field: "footer.dataOffset", value: headerOffset, reason: "not sector-aligned"))
    }
    let header = try VHDDynamicHeader.parse(
        try lifting { () throws(BlockDeviceError) in try io.readBytes(at: headerOffset, count: VHDDynamicHeader.size) })
    result.header = header
    if header.dataOffset != .max {
        try findings.add(
            .notice, .invalidField(field: "header.dataOffset", value: header.dataOffset, reason: "should be all ones"))
    }
    if header.headerVersion >> 16 != 1 {
        try findings.add(
            .fatal,
            .invalidField(
                field: "header.headerVersion", value: UInt64(header.headerVersion), reason: "unsupported major version")
        )
    }
    let blockSize = UInt64(header.blockSize)
    guard blockSize >= 512, blockSize <= maximumBlockSize, blockSize & (blockSize - 1) == 0 else {
        throw .invalidField(
            field: "header.blockSize", value: blockSize,
            reason: "must be a power of two from 512 to \(maximumBlockSize)")
    }
    let entries = UInt64(header.maxTableEntries)
    let tableOffset = header.tableOffset
    guard tableOffset <= fileSize, entries * 4 <= fileSize - tableOffset else {
        throw .invalidField(
            field: "header.maxTableEntries", value: entries,
            reason: "a table of \(entries * 4) bytes at \(tableOffset) does not fit in the file (\(fileSize) bytes)")
    }
    let neededEntries = blockCount(covering: footer.currentSize, blockSize: blockSize)
    if entries < neededEntries {
        try findings.add(
            .fatal,
            .invalidField(
                field: "header.maxTableEntries", value: entries,
                reason:
                    "a disk of \(footer.currentSize) bytes in \(blockSize)-byte blocks needs \(neededEntries) entries"))
    }
    if tableOffset % 512 != 0 {
        try findings.add(
            .damaged, .invalidField(field: "header.tableOffset", value: tableOffset, reason: "not sector-aligned"))
    }

    // Metadata ranges: footer copy, header, BAT, locators.
    var metadata: [(name: String, range: Range<UInt64>, locator: Int?)] = [
        ("footerCopy", 0..<512, nil),
        ("header", headerOffset..<headerOffset + 1024, nil),
        ("BAT", tableOffset..<tableOffset + header.tableSize, nil),
    ]
    if tableOffset < headerOffset + 1024, tableOffset + header.tableSize > headerOffset {
        try findings.add(
            .fatal,
            .invalidField(
                field: "header.tableOffset", value: tableOffset, reason: "the BAT overlaps the dynamic header"))
    }
    if tableOffset < 512 {
        try findings.add(
            .fatal,
            .invalidField(field: "header.tableOffset", value: tableOffset, reason: "the BAT overlaps the footer copy"))
    }
    // What check --repair, a header update or a new block rewrites: a differencing disk's
    // locator data must not share a byte with any of it, or the write would change where the
    // parent is looked for (an image that opened would then name a parent that is not there, or
    // another one). A dynamic disk never reads its locators.
    let rewritten = zip(["footer copy", "dynamic header", "BAT"], metadata.map(\.range)).map {
        (name: $0, range: $1)
    }
    for (i, locator) in header.locators.enumerated() where locator.isUsed {
        let length = UInt64(locator.dataLength)
        if length > maximumLocatorLength {
            try findings.add(
                .fatal,
                .invalidField(
                    field: "header.parentLocator[\(i)].dataLength", value: length,
                    reason: "larger than \(maximumLocatorLength) bytes"))
            continue
        }
        guard locator.dataOffset <= fileSize, length <= fileSize - locator.dataOffset else {
            try findings.add(
                .fatal, .locatorOutsideFile(index: i, offset: locator.dataOffset, length: length, fileSize: fileSize))
            continue
        }
        let data = locator.dataOffset..<locator.dataOffset + length
        if footer.diskType == .differencing, let structure = rewritten.first(where: { $0.range.overlaps(data) }) {
            try findings.add(
                .fatal,
                .invalidField(
                    field: "header.parentLocator[\(i)].dataOffset", value: locator.dataOffset,
                    reason: "the locator's \(length) bytes of data overlap the \(structure.name)"))
        }
        // The data only for now; the space reserved after it is added once the blocks are known.
        metadata.append(
            ("header.parentLocator[\(i)]", locator.dataOffset..<locator.dataOffset + alignUp(length, 512), i))
    }
    // The trailing footer lies after all of it: a write to one would otherwise change the other.
    if let trailing = trailingOffset {
        for item in metadata where item.range.overlaps(trailing..<fileSize) {
            try findings.add(
                .fatal,
                .invalidField(field: "footer", value: trailing, reason: "the trailing footer overlaps the \(item.name)")
            )
        }
    }
    if footer.diskType == .differencing, header.parentUniqueID == .zero {
        try findings.add(
            .damaged,
            .invalidField(field: "header.parentUniqueID", value: 0, reason: "a differencing disk needs its parent's id")
        )
    }
    result.metadata = metadata.map(\.range)
    result.metadataEnd = metadata.map(\.range.upperBound).max() ?? 0

    // BAT entries: inside the file, outside metadata, not overlapping each other.
    let batBytes = try lifting { () throws(BlockDeviceError) in
        try io.readBytes(at: tableOffset, count: Int(entries * 4))
    }
    var bat = [UInt32](repeating: unallocatedBlock, count: Int(entries))
    for i in 0..<Int(entries) { bat[i] = batBytes.be32(i * 4) }
    let span = header.bitmapSize + blockSize
    var allocated: [(start: UInt64, block: Int)] = []
    for (block, entry) in bat.enumerated() where entry != unallocatedBlock {
        let start = UInt64(entry) * 512
        let end = start + span
        if end > fileSize {
            try findings.add(
                .fatal, .batEntryOutsideFile(block: block, offset: start, end: end, fileSize: fileSize),
                repair: .dropBATEntry(block))
            bat[block] = unallocatedBlock
            continue
        }
        if metadata.contains(where: { $0.range.overlaps(start..<end) }) {
            try findings.add(.fatal, .batEntryInMetadata(block: block, offset: start, metadataEnd: result.metadataEnd))
            continue
        }
        if UInt64(block) >= neededEntries {
            try findings.add(
                .notice,
                .invalidField(
                    field: "bat[\(block)]", value: UInt64(entry), reason: "block lies past the end of the disk"))
        }
        allocated.append((start, block))
    }
    allocated.sort { $0.start < $1.start }
    for i in allocated.indices.dropFirst() where allocated[i].start < allocated[i - 1].start + span {
        try findings.add(
            .fatal,
            .batEntriesOverlap(
                block: allocated[i].block, otherBlock: allocated[i - 1].block, offset: allocated[i].start))
    }
    result.bat = bat

    // A locator's reserved space (room for a longer path) counts as metadata up to the next
    // block, structure or the trailing footer, whichever comes first: never overlapping what
    // is there, and the same after the file grows (new blocks go after all of it).
    let footerStart = trailingOffset ?? fileSize
    for (index, item) in metadata.enumerated() {
        guard let i = item.locator, case let locator = header.locators[i] else { continue }
        let reservedEnd = locator.dataOffset &+ locator.reservedBytes
        guard reservedEnd > item.range.upperBound else { continue }
        let following = metadata.map(\.range.lowerBound) + allocated.map(\.start) + [footerStart]
        let limit = following.filter { $0 >= item.range.upperBound }.min() ?? footerStart
        metadata[index].range = item.range.lowerBound..<max(item.range.upperBound, min(reservedEnd, limit))
    }
    result.metadata = metadata.map(\.range)
    result.metadataEnd = metadata.map(\.range.upperBound).max() ?? 0
    result.dataEnd = max(alignUp(result.metadataEnd, 512), (allocated.last.map { $0.start + span }) ?? 0)
    result.problems = findings.problems
    return result
}
