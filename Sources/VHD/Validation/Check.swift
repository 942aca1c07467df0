import BlockStorage

/// The result of ``VHDImage/check(path:repair:locking:)``.
public struct VHDCheckReport: Sendable {
    /// The image checked.
    public let path: String
    /// The disk type, when the footer could be read.
    public let diskType: VHDDiskType?
    /// Problems remaining (after repair, if repair was asked for).
    public let problems: [VHDProblem]
    /// Problems that were repaired.
    public let repaired: [VHDProblem]
    /// Whether a repair was asked for and withheld, with nothing written, because a fatal
    /// problem of the file's own structures that repair cannot fix (overlapping structures,
    /// sizes that do not add up) makes its writes unsafe; ``problems`` lists everything found.
    public let repairWithheld: Bool

    init(
        path: String, diskType: VHDDiskType?, problems: [VHDProblem], repaired: [VHDProblem],
        repairWithheld: Bool = false, lost: [VHDDiskRange] = []
    ) {
        self.path = path
        self.diskType = diskType
        self.problems = problems
        self.repaired = repaired
        self.repairWithheld = repairWithheld
        self.lost = lost
    }

    /// Disk ranges whose data the repair dropped (in disk order, merged where adjacent): the
    /// sectors a dropped BAT entry's bitmap marked as written, or the whole block when its
    /// bitmap could not be read. They now read as zeros (or as the parent's data, for a
    /// differencing image). Empty when nothing the disk held was lost.
    public let lost: [VHDDiskRange]

    /// Whether no problem other than notices remains.
    public var isClean: Bool { !problems.contains { $0.severity != .notice } }
}

/// A range of disk bytes, `[offset, offset + length)`.
public struct VHDDiskRange: Sendable, Equatable, CustomStringConvertible {
    /// The first byte.
    public let offset: UInt64
    /// The number of bytes.
    public let length: UInt64

    /// The range of `length` bytes from `offset`.
    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }

    /// `0xSTART-0xEND` (END inclusive) and the length in bytes.
    public var description: String {
        "0x\(String(offset, radix: 16))-0x\(String(offset + length - 1, radix: 16)) (\(length) bytes)"
    }
}

extension VHDImage {
    /// Checks every structural rule of the VHD at `path` — cookies, checksums, sizes, geometry,
    /// BAT entries inside the file and clear of metadata and of each other, bitmap padding and
    /// the parent link — and reports all problems rather than stopping at the first. With
    /// `repair`, restores a damaged trailing footer or footer copy from the other and drops
    /// BAT entries that point outside the file, then checks again; one repair leaves nothing
    /// a second could fix. When this file's structures have a fatal problem that repair
    /// cannot fix (a missing or mismatched parent does not count), the repair's writes could
    /// land on other structures, so nothing is written (``VHDCheckReport/repairWithheld``).
    ///
    /// The image is locked as `locking` says (exclusively for a repair; `.forceShare` checks an
    /// image a VM is writing, knowing it may change meanwhile), and so are its parents.
    public static func check(path: String, repair: Bool = false, locking: ImageLocking = .automatic)
        throws(VHDError) -> VHDCheckReport
    {
        let io = try lifting { () throws(BlockDeviceError) in
            try FileImageIO(path: path, readOnly: !repair, locking: locking)
        }
        return try checkImage(io: io, path: path, repair: repair, locking: locking)
    }

    /// ``check(path:repair:locking:)`` on an arbitrary `ImageIO` (for fuzzing, fault injection and
    /// images that are not files); `path` is the base for relative parent locators. Each
    /// repair is one write that is right on its own (a footer sector, a BAT entry, the file
    /// cut after a restored footer), and one `fdatasync` follows them all: a crash part-way
    /// leaves some repairs done and the others still reported by `check`. `locking` is how
    /// the parents of a differencing image are locked.
    public static func checkImage(
        io: any ImageIO, path: String, repair: Bool = false, locking: ImageLocking = .automatic
    ) throws(VHDError) -> VHDCheckReport {
        let first = try checkStructures(io: io, path: path, locking: locking)
        guard repair else {
            return VHDCheckReport(path: path, diskType: first.diskType, problems: first.problems, repaired: [])
        }
        let repairable = first.problems.filter { $0.repair != nil }
        guard !repairable.isEmpty, let inspection = first.inspection else {
            return VHDCheckReport(path: path, diskType: first.diskType, problems: first.problems, repaired: [])
        }
        if first.problems.contains(where: { $0.severity == .fatal && $0.repair == nil && !$0.error.concernsParentLink })
        {
            return VHDCheckReport(
                path: path, diskType: first.diskType, problems: first.problems, repaired: [], repairWithheld: true)
        }
        let lost = try lostRanges(repairing: repairable, inspection: inspection, io: io)
        try lifting { () throws(BlockDeviceError) in
            let footerBytes = inspection.footer.serialized()
            for problem in repairable {
                switch problem.repair {
                case .restoreTrailingFooter:
                    let end = alignUp(inspection.dataEnd, 512)
                    try io.writeBytes(footerBytes, at: end)
                    try io.truncate(to: end + 512)
                case .restoreFooterCopy:
                    try io.writeBytes(footerBytes, at: 0)
                case .dropBATEntry(let block):
                    if let header = inspection.header {
                        try io.writeBytes([0xFF, 0xFF, 0xFF, 0xFF], at: header.tableOffset + UInt64(block) * 4)
                    }
                case nil:
                    break
                }
            }
            try io.sync()
        }
        let second = try checkStructures(io: io, path: path, locking: locking)
        return VHDCheckReport(
            path: path, diskType: second.diskType, problems: second.problems, repaired: repairable, lost: lost)
    }

    /// The disk ranges whose data the repairs will drop, read before anything is written: for
    /// each dropped BAT entry, the sectors its bitmap marks (inside the disk), or the whole
    /// block (inside the disk) when the bitmap lies past the end of the file. Restoring a
    /// footer loses no disk data.
    static func lostRanges(repairing repairs: [VHDProblem], inspection: Inspection, io: any ImageIO)
        throws(VHDError) -> [VHDDiskRange]
    {
        guard let header = inspection.header else { return [] }
        let fileSize = try lifting { () throws(BlockDeviceError) in try io.size() }
        let diskSize = inspection.footer.currentSize
        let blockSize = UInt64(header.blockSize)
        let sectors = Int(header.blockSize / 512)
        var lost: [VHDDiskRange] = []
        func add(_ start: UInt64, _ end: UInt64) {
            let end = min(end, diskSize)
            guard start < end else { return }
            if let last = lost.last, last.offset + last.length == start {
                lost[lost.count - 1] = VHDDiskRange(offset: last.offset, length: end - last.offset)
            } else {
                lost.append(VHDDiskRange(offset: start, length: end - start))
            }
        }
        let blocks = repairs.compactMap { problem -> Int? in
            if case .dropBATEntry(let block) = problem.repair { return block }
            return nil
        }.sorted()
        for block in blocks where UInt64(block) < UInt64(header.maxTableEntries) {
            let base = UInt64(block) * blockSize
            // The entry as the file has it (the inspection's table leaves refused entries out).
            let entry = try lifting { () throws(BlockDeviceError) in
                try io.readBytes(at: header.tableOffset + UInt64(block) * 4, count: 4)
            }.be32(0)
            let bitmapOffset = UInt64(entry) * 512
            guard bitmapOffset <= fileSize, fileSize - bitmapOffset >= UInt64(header.bitmapSize) else {
                add(base, base + blockSize)
                continue
            }
            let bitmap = SectorBitmap(
                bytes: try lifting { () throws(BlockDeviceError) in
                    try io.readBytes(at: bitmapOffset, count: Int(header.bitmapSize))
                })
            for run in bitmap.runs(0..<sectors) where run.set {
                add(base + UInt64(run.sectors.lowerBound) * 512, base + UInt64(run.sectors.upperBound) * 512)
            }
        }
        return lost
    }

    static func checkStructures(io: any ImageIO, path: String, locking: ImageLocking = .automatic) throws(VHDError) -> (
        inspection: Inspection?, diskType: VHDDiskType?, problems: [VHDProblem]
    ) {
        let inspection: Inspection
        do {
            inspection = try inspect(io, mode: .check)
        } catch {
            if case .device(.io) = error { throw error }
            return (nil, nil, [VHDProblem(.fatal, error)])
        }
        var problems = inspection.problems
        if let header = inspection.header {
            // Bitmap padding: bits past the sectors of a block must be clear.
            let sectors = Int(header.blockSize / 512)
            let diskSectors = Int(inspection.footer.currentSize / 512)
            for (block, entry) in inspection.bat.enumerated() where entry != unallocatedBlock {
                let bitmap = SectorBitmap(
                    bytes: try lifting { () throws(BlockDeviceError) in
                        try io.readBytes(at: UInt64(entry) * 512, count: Int(header.bitmapSize))
                    })
                if !bitmap.noneSet(sectors..<bitmap.bytes.count * 8) {
                    problems.append(
                        VHDProblem(
                            .damaged,
                            .invalidField(
                                field: "bitmap[\(block)]", value: UInt64(entry) * 512,
                                reason: "padding bits past the block's \(sectors) sectors are set")))
                }
                let firstSector = block * sectors
                if firstSector + sectors > diskSectors, !bitmap.noneSet(max(0, diskSectors - firstSector)..<sectors) {
                    problems.append(
                        VHDProblem(
                            .notice,
                            .invalidField(
                                field: "bitmap[\(block)]", value: UInt64(entry) * 512,
                                reason: "sectors past the end of the disk are marked in use")))
                }
            }
            if inspection.footer.diskType == .differencing {
                // The chain is opened for inspection, so a break further up is reported for
                // the image whose parent is missing rather than as this image's own.
                do {
                    let (parent, parentPath) = try ParentLink.open(
                        for: header, io: io, childPath: path, visited: [], detached: true, locking: locking)
                    if let problem = parentTimestampProblem(header, parentPath: parentPath) { problems.append(problem) }
                    var link: VHDImage? = parent
                    while let image = link {
                        if let error = image.parentError {
                            problems.append(VHDProblem(.fatal, .inParent(path: image.path, error: error)))
                        }
                        if let header = image.header, let parentPath = image.parentPath,
                            let problem = parentTimestampProblem(header, parentPath: parentPath)
                        {
                            problems.append(
                                VHDProblem(problem.severity, .inParent(path: image.path, error: problem.error)))
                        }
                        link = image.parent
                    }
                } catch {
                    problems.append(VHDProblem(.fatal, error))
                }
            }
        }
        return (inspection, inspection.footer.diskType, problems)
    }

    /// A notice when a differencing header's parent timestamp is not the parent file's
    /// modification time: the parent may have been written since the child was linked to it
    /// (which changes what the child's unstored sectors read), or merely copied or touched.
    /// A zero timestamp (unknown) is not compared.
    static func parentTimestampProblem(_ header: VHDDynamicHeader, parentPath: String) -> VHDProblem? {
        guard header.parentTimestamp != 0, let modified = VHDTimestamp.modificationTime(ofFile: parentPath),
            modified != header.parentTimestamp
        else { return nil }
        return VHDProblem(
            .notice,
            .invalidField(
                field: "header.parentTimestamp", value: UInt64(header.parentTimestamp),
                reason:
                    "the parent \(parentPath) was last modified \(VHDTimestamp.iso8601(modified)), not at \(VHDTimestamp.iso8601(header.parentTimestamp)) as when this disk was linked to it: if it was written since, this disk may no longer read as it did"
            ))
    }
}
