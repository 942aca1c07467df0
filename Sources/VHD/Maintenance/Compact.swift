import BlockStorage

/// What ``VHDImage/compact(path:progress:)`` did.
public struct CompactResult: Sendable, Equatable {
    /// Blocks released because they held no data (dynamic: only zeros).
    public var blocksReleased = 0
    /// Blocks moved down into free space.
    public var blocksMoved = 0
    /// Whether the BAT moved down (into space `resize` or released blocks left free).
    public var tableMoved = false
    /// The file size in bytes before compacting.
    public var fileSizeBefore: UInt64 = 0
    /// The file size in bytes after compacting.
    public var fileSizeAfter: UInt64 = 0
}

/// The unused ranges of a file below its end, sorted and disjoint.
struct FreeSpace {
    private(set) var gaps: [Range<UInt64>] = []

    /// The complement of `used` within `0..<end`.
    init(end: UInt64, used: [Range<UInt64>]) {
        var position: UInt64 = 0
        for range in used.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > position { gaps.append(position..<min(range.lowerBound, end)) }
            position = max(position, range.upperBound)
            if position >= end { break }
        }
        if position < end { gaps.append(position..<end) }
        gaps.removeAll { $0.isEmpty }
    }

    /// The lowest start for `length` bytes inside one gap, ending at or before `limit`.
    /// `preferred(start)` moves a start up to a better-aligned one; it is used when the
    /// result still fits, else the start is only sector-aligned.
    func lowestFit(length: UInt64, endingBy limit: UInt64, preferred: (UInt64) -> UInt64) -> UInt64? {
        for gap in gaps {
            let sector = alignUp(gap.lowerBound, 512)
            if sector + length > min(gap.upperBound, limit) {
                if sector >= limit { return nil }
                continue
            }
            let better = preferred(sector)
            return better + length <= min(gap.upperBound, limit) ? better : sector
        }
        return nil
    }

    /// Marks `range` used (it must lie inside one gap).
    mutating func take(_ range: Range<UInt64>) {
        guard let i = gaps.firstIndex(where: { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound })
        else { return }
        let gap = gaps[i]
        var pieces: [Range<UInt64>] = []
        if gap.lowerBound < range.lowerBound { pieces.append(gap.lowerBound..<range.lowerBound) }
        if range.upperBound < gap.upperBound { pieces.append(range.upperBound..<gap.upperBound) }
        gaps.replaceSubrange(i...i, with: pieces)
    }

    /// Marks `range` free, merging it with neighbouring gaps.
    mutating func give(_ range: Range<UInt64>) {
        var merged = range
        gaps.removeAll { gap in
            guard gap.upperBound >= merged.lowerBound, gap.lowerBound <= merged.upperBound else { return false }
            merged = min(gap.lowerBound, merged.lowerBound)..<max(gap.upperBound, merged.upperBound)
            return true
        }
        let at = gaps.firstIndex { $0.lowerBound > merged.lowerBound } ?? gaps.count
        gaps.insert(merged, at: at)
    }
}

extension VHDImage {
    // MARK: Compact

    /// Releases unused blocks and shrinks the file. Dynamic disk: blocks with no sector in use
    /// or only zeros are released; differencing disk: blocks with no sector in use (zeros there
    /// hide parent data). Then, repeatedly, the block or BAT that ends last in the file moves
    /// to the lowest free space that holds it — space of released blocks, of blocks `discard`
    /// released earlier, and of the BAT's old place that `resize` left behind — and the file is
    /// cut after whatever ends last. Free space that remains below the end is punched out.
    /// Each copy is made durable before the reference to it changes (a BAT sector, or the
    /// first header sector for the BAT), so a crash at any point leaves the image reading the
    /// same. Fixed disk: all-zero 64 KiB runs become holes.
    public static func compact(path: String, progress: (Double) -> Void = { _ in }) throws(VHDError) -> CompactResult {
        let image = try open(path: path)
        if !image.openProblems.filter({ $0.severity != .notice }).isEmpty {
            throw .invalidRequest("the image is damaged (\(image.openProblems[0].error)); run check --repair first")
        }
        return try lifting { () throws(BlockDeviceError) in try image.compactOpened(progress: progress) }
    }

    /// ``compact(path:progress:)`` on an opened, writable image. When the BAT moves, the
    /// object must not be used for I/O afterwards (reopen the file).
    func compactOpened(progress: (Double) -> Void) throws(BlockDeviceError) -> CompactResult {
        try flush()
        var result = CompactResult()
        result.fileSizeBefore = try io.size()
        if diskType == .fixed {
            let chunk: UInt64 = 64 << 10
            var offset: UInt64 = 0
            while offset < capacity {
                let count = Int(min(chunk, capacity - offset))
                if try io.readBytes(at: offset, count: count).allSatisfy({ $0 == 0 }) {
                    try io.punchHole(at: offset, length: UInt64(count))
                }
                offset += UInt64(count)
                progress(Double(offset) / Double(capacity))
            }
            result.fileSizeAfter = result.fileSizeBefore
            return result
        }
        guard var header else { return result }
        let span = bitmapSize + blockSize
        try state.withLock { (s) throws(BlockDeviceError) in
            // 1. Release blocks without data.
            for block in s.bat.indices where s.bat[block] != unallocatedBlock {
                let entry = s.bat[block]
                let bitmap = try loadBitmap(&s, block: block, entry: entry)
                var unused = bitmap.noneSet(0..<sectorsPerBlock)
                if !unused, diskType == .dynamic {
                    unused = try io.readBytes(at: dataOffset(ofBlockAt: entry), count: Int(blockSize)).allSatisfy {
                        $0 == 0
                    }
                }
                if unused {
                    s.bat[block] = unallocatedBlock
                    s.store(nil, for: block)
                    result.blocksReleased += 1
                }
                progress(Double(block + 1) / Double(s.bat.count) * 0.4)
            }
            if result.blocksReleased > 0 {
                try writeBAT(s.bat, header: header, sectors: nil)
                try io.sync()
            }

            // 2. Free space: everything below the end of the data that no metadata or block uses.
            let oldTable = header.tableOffset..<header.tableOffset + header.tableSize
            let fixed = metadataRanges.filter { $0 != oldTable }
            let blockRanges = s.bat.filter { $0 != unallocatedBlock }.map { UInt64($0) * 512..<UInt64($0) * 512 + span }
            var free = FreeSpace(end: s.nextFree, used: fixed + [oldTable] + blockRanges)
            let alignment = dataAlignment, bitmapSize = bitmapSize
            let dataAligned = { (start: UInt64) -> UInt64 in
                alignedBlockStart(start, bitmapSize: bitmapSize, alignment: alignment)
            }

            // 3. Move whatever ends last down into the lowest space that holds it.
            var copy = [UInt8](repeating: 0, count: Int(min(span, 1 << 20)))
            func move(from: UInt64, to: UInt64, length: UInt64) throws(BlockDeviceError) {
                var done: UInt64 = 0
                while done < length {
                    let n = Int(min(UInt64(copy.count), length - done))
                    try withMutableBytes(&copy) { (b) throws(BlockDeviceError) in
                        let piece = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
                        try io.readExactly(into: piece, at: from + done)
                        try io.write(UnsafeRawBufferPointer(piece), at: to + done)
                    }
                    done += UInt64(n)
                }
                try io.sync()
            }
            let movable = s.bat.filter { $0 != unallocatedBlock }.count
            while true {
                let table = header.tableOffset..<header.tableOffset + header.tableSize
                let last = s.bat.indices.filter { s.bat[$0] != unallocatedBlock }.max { s.bat[$0] < s.bat[$1] }
                let lastBlockStart = last.map { UInt64(s.bat[$0]) * 512 }
                if let block = last, let from = lastBlockStart, from > table.lowerBound {
                    guard let to = free.lowestFit(length: span, endingBy: from, preferred: dataAligned) else { break }
                    s.store(nil, for: block)
                    try move(from: from, to: to, length: span)
                    s.bat[block] = UInt32(to / 512)
                    try writeBAT(s.bat, header: header, sectors: [block / 128])
                    try io.sync()
                    free.take(to..<to + span)
                    free.give(from..<from + span)
                    result.blocksMoved += 1
                    progress(0.4 + 0.5 * Double(result.blocksMoved) / Double(max(movable, 1)))
                } else {
                    // The BAT ends last (resize moved it to the end of the file).
                    guard
                        let to = free.lowestFit(length: header.tableSize, endingBy: table.lowerBound, preferred: { $0 })
                    else { break }
                    try move(from: table.lowerBound, to: to, length: header.tableSize)
                    header.tableOffset = to
                    try rewriteHeaderFirstSector { $0.setBE64(to, at: VHDDynamicHeader.tableOffsetOffset) }
                    try io.sync()
                    free.take(to..<to + header.tableSize)
                    free.give(table)
                    result.tableMoved = true
                }
            }

            // 4. Cut the file after whatever ends last; punch out free space below that.
            let table = header.tableOffset..<header.tableOffset + header.tableSize
            let ends =
                (fixed + [table]).map(\.upperBound)
                + s.bat.filter { $0 != unallocatedBlock }.map { UInt64($0) * 512 + span }
            let newEnd = alignUp(ends.max() ?? 0, 512)
            for gap in free.gaps where gap.upperBound <= newEnd && gap.count >= 4096 {
                try io.punchSectors(at: gap.lowerBound, length: UInt64(gap.count))
            }
            try io.writeBytes(footerBytes, at: newEnd)
            try io.sync()
            try io.truncate(to: newEnd + 512)
            try io.sync()
            s.nextFree = newEnd
            s.trailingFooterAt = newEnd
            s.fileSize = newEnd + 512
            s.tailTrimmed = true
        }
        result.fileSizeAfter = try io.size()
        progress(1)
        return result
    }
}
