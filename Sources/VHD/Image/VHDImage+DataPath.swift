#if canImport(Glibc)
    import BlockStorage
    import Glibc
#endif

/// Where a piece of a read comes from.
enum ReadSource: Sendable {
    /// This file, at the given offset.
    case file(UInt64)
    /// Not stored here: zeros for a dynamic disk, the parent for a differencing one.
    case absent
}

extension VHDImage {
    // MARK: Read

    /// Fills `buffer` with the disk bytes at `offset`. Sectors not stored in this file read as
    /// zeros (dynamic) or from the parent (differencing); blocks stored in full are read without
    /// taking the lock.
    ///
    /// - Throws: `BlockDeviceError.outOfRange(offset:length:capacity:)` past the capacity;
    ///   `BlockDeviceError.parentUnavailable(_:)` for sectors beneath an image opened with
    ///   ``openForInspection(path:locking:)`` whose parent is missing; `BlockDeviceError.io(operation:errno:)`
    ///   or `BlockDeviceError.corrupt(_:)` from the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        try checkRange(offset: offset, length: UInt64(buffer.count))
        // Nothing to read (at the very end, `offset` names no block at all).
        if buffer.isEmpty { return }
        if diskType == .fixed {
            try io.readExactly(into: buffer, at: offset)
            return
        }
        // The common case, kept short: one block, stored in full.
        let inBlock = offset & (blockSize &- 1)
        if inBlock &+ UInt64(buffer.count) <= blockSize, let data = fullBlocks.dataOffset(Int(offset >> blockShift)) {
            if fileDescriptor >= 0 {
                try FileImageIO.readExactly(descriptor: fileDescriptor, into: buffer, at: data + inBlock)
            } else {
                try io.readExactly(into: buffer, at: data + inBlock)
            }
            return
        }
        try readPieces(into: buffer, at: offset)
    }

    /// Reads block by block, planning each block's pieces under the lock unless it is stored
    /// in full. Kept out of line so that the fast path above stays small.
    @inline(never)
    func readPieces(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        try forEachBlockPiece(offset: offset, count: buffer.count) {
            (block, inBlock, done, count) throws(BlockDeviceError) in
            if let data = fullBlocks.dataOffset(block) {
                try io.readExactly(
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + count]),
                    at: data + UInt64(inBlock))
                return
            }
            let pieces = try state.withLock { (s) throws(BlockDeviceError) in
                try planRead(&s, block: block, inBlock: inBlock, count: count)
            }
            var pieceStart = done
            for piece in pieces {
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[pieceStart..<pieceStart + piece.count])
                switch piece.source {
                case .file(let fileOffset):
                    try io.readExactly(into: slice, at: fileOffset)
                case .absent:
                    try readBeneath(into: slice, at: offset + UInt64(pieceStart))
                }
                pieceStart += piece.count
            }
        }
    }

    /// Calls `body(block, offsetInBlock, bytesBefore, length)` for each piece of the byte range
    /// that lies within one block, in order.
    @inline(__always)
    func forEachBlockPiece(
        offset: UInt64, count total: Int, _ body: (Int, Int, Int, Int) throws(BlockDeviceError) -> Void
    ) throws(BlockDeviceError) {
        var done = 0
        while done < total {
            let position = offset + UInt64(done)
            let inBlock = Int(position & (blockSize &- 1))
            let count = min(Int(blockSize) - inBlock, total - done)
            try body(Int(position >> blockShift), inBlock, done, count)
            done += count
        }
    }

    /// Reads what lies beneath this image: the parent's data, or zeros (also past the end of
    /// a smaller parent).
    func readBeneath(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        guard let parent else {
            if diskType == .differencing {
                // Opened for inspection without its parent: never stand in zeros for its data.
                throw .parentUnavailable(parentError?.description ?? "not opened")
            }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return
        }
        let available = offset < parent.capacity ? Int(min(UInt64(buffer.count), parent.capacity - offset)) : 0
        if available > 0 {
            try parent.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<available]), at: offset)
        }
        if available < buffer.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer[available...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// Splits `count` bytes at `inBlock` of `block` into pieces stored here or absent.
    func planRead(_ s: inout SparseState, block: Int, inBlock: Int, count: Int) throws(BlockDeviceError) -> [(
        count: Int, source: ReadSource
    )] {
        let entry = s.bat[block]
        if entry == unallocatedBlock { return [(count, .absent)] }
        let bitmap = try loadBitmap(&s, block: block, entry: entry)
        let data = dataOffset(ofBlockAt: entry)
        let sectors = (inBlock / 512)..<((inBlock + count + 511) / 512)
        if bitmap.allSet(sectors) { return [(count, .file(data + UInt64(inBlock)))] }
        var pieces: [(count: Int, source: ReadSource)] = []
        for run in bitmap.runs(sectors) {
            let start = max(run.sectors.lowerBound * 512, inBlock)
            let end = min(run.sectors.upperBound * 512, inBlock + count)
            pieces.append((end - start, run.set ? .file(data + UInt64(start)) : .absent))
        }
        return pieces
    }

    /// The bitmap of an allocated block, from the cache or the file.
    func loadBitmap(_ s: inout SparseState, block: Int, entry: UInt32) throws(BlockDeviceError) -> SectorBitmap {
        if let cached = s.bitmaps[block] { return cached }
        if s.bitmaps.count >= 8192 {
            // Bound the cache: keep only bitmaps that still have to be written.
            let keep = s.dirtyBitmaps.union(s.newBlocks)
            s.bitmaps = s.bitmaps.filter { keep.contains($0.key) }
        }
        let bitmap = SectorBitmap(bytes: try io.readBytes(at: UInt64(entry) * 512, count: Int(bitmapSize)))
        s.store(bitmap, for: block)
        return bitmap
    }

    // MARK: Write

    /// Stores `buffer` at disk offset `offset`. Sectors already stored are overwritten in place
    /// without the lock; otherwise a block is allocated or bitmap bits are set under the lock, and
    /// that metadata reaches the file only at the next ``flush()``.
    ///
    /// - Throws: `BlockDeviceError.readOnly` on a read-only image;
    ///   `BlockDeviceError.outOfRange(offset:length:capacity:)` past the capacity; I/O errors.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: UInt64(buffer.count))
        if diskType == .fixed {
            try io.write(buffer, at: offset)
            return
        }
        try forEachBlockPiece(offset: offset, count: buffer.count) {
            (block, inBlock, done, count) throws(BlockDeviceError) in
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[done..<done + count])
            let sectors = (inBlock / 512)..<((inBlock + count + 511) / 512)
            // Fast path: every touched sector is already stored here; no metadata changes.
            var direct = fullBlocks.dataOffset(block)
            if direct == nil {
                direct = try state.withLock { (s) throws(BlockDeviceError) -> UInt64? in
                    let entry = s.bat[block]
                    guard entry != unallocatedBlock else { return nil }
                    return try loadBitmap(&s, block: block, entry: entry).allSet(sectors)
                        ? dataOffset(ofBlockAt: entry) : nil
                }
            }
            if let data = direct {
                try io.write(chunk, at: data + UInt64(inBlock))
            } else {
                try state.withLock { (s) throws(BlockDeviceError) in
                    try writeChangingMetadata(&s, chunk, block: block, inBlock: inBlock)
                }
            }
        }
    }

    /// Writes within one block when a block must be allocated or bitmap bits set. Partial
    /// sectors not yet stored here are completed from what lies beneath (zeros or the parent),
    /// so a set bit always covers a whole sector of valid data.
    func writeChangingMetadata(_ s: inout SparseState, _ chunk: UnsafeRawBufferPointer, block: Int, inBlock: Int)
        throws(BlockDeviceError)
    {
        var entry = s.bat[block]
        if entry == unallocatedBlock {
            entry = try allocate(&s, block: block)
        }
        var bitmap = try loadBitmap(&s, block: block, entry: entry)
        let data = dataOffset(ofBlockAt: entry)
        let end = inBlock + chunk.count
        let firstSector = inBlock / 512
        let lastSector = (end - 1) / 512
        var directStart = inBlock
        var directEnd = end
        // A partially written first or last sector that is not stored here yet.
        var partials: [Int] = []
        if inBlock % 512 != 0 || (firstSector == lastSector && end % 512 != 0) {
            if !bitmap.isSet(firstSector) {
                partials.append(firstSector); directStart = min(end, (firstSector + 1) * 512)
            }
        }
        if end % 512 != 0, lastSector != firstSector || partials.isEmpty, !bitmap.isSet(lastSector),
            !partials.contains(lastSector)
        {
            partials.append(lastSector)
            directEnd = max(directStart, lastSector * 512)
        }
        if directEnd > directStart {
            try io.write(
                UnsafeRawBufferPointer(rebasing: chunk[(directStart - inBlock)..<(directEnd - inBlock)]),
                at: data + UInt64(directStart))
        }
        for sector in partials {
            var merged = [UInt8](repeating: 0, count: 512)
            let sectorStart = sector * 512
            let diskOffset = UInt64(block) * blockSize + UInt64(sectorStart)
            try withMutableBytes(&merged) { (m) throws(BlockDeviceError) in
                try readBeneath(into: m, at: diskOffset)
                let from = max(sectorStart, inBlock)
                let to = min(sectorStart + 512, end)
                UnsafeMutableRawBufferPointer(rebasing: m[(from - sectorStart)..<(to - sectorStart)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[(from - inBlock)..<(to - inBlock)]))
            }
            try io.writeBytes(merged, at: data + UInt64(sectorStart))
        }
        if bitmap.assign(firstSector..<(lastSector + 1), to: true) {
            s.store(bitmap, for: block)
            if !s.newBlocks.contains(block) {
                s.dirtyBitmaps.insert(block)
            } else if bitmap.allSet(0..<sectorsPerBlock) {
                // A new block just became full (sequential writes): its bitmap is final unless
                // discarded. Write it now, while nothing refers to it, so the next flush does
                // not have to.
                try io.writeBytes(bitmap.bytes, at: UInt64(entry) * 512)
                s.newBitmapsWritten.insert(block)
            }
        }
    }

    /// Places a new block at the end of the data. Its bitmap and BAT entry reach the disk at
    /// the next flush; until then the block is invisible after a crash.
    func allocate(_ s: inout SparseState, block: Int) throws(BlockDeviceError) -> UInt32 {
        if s.footerCopyStale {
            // From here until the next flush the trailing footer may be gone; after a crash
            // the copy at offset 0 stands in for it, so it must be right first.
            try io.writeBytes(footerBytes, at: 0)
            try io.sync()
            s.footerCopyStale = false
        }
        if !s.tailTrimmed {
            // Bytes past the end of the data are stale (an old footer is overwritten by the
            // bitmap; anything beyond is left over from a crash): cut them off so that the
            // unwritten parts of new blocks read as zeros. The footer goes to the new end
            // first: a file cut right after its data would end in a data sector, which a crash
            // before the next flush would leave to be read as the trailing footer.
            if s.fileSize > s.nextFree + 512 {
                try io.writeBytes(footerBytes, at: s.nextFree)
                try io.truncate(to: s.nextFree + 512)
                s.fileSize = s.nextFree + 512
                s.trailingFooterAt = s.nextFree
            }
            s.tailTrimmed = true
        }
        // Place the block so that its data (after the bitmap) starts on a `dataAlignment`
        // boundary (see `defaultDataAlignment(blockSize:)`): page cache and disk then serve
        // aligned guest I/O without straddling pages, in large folios. The gap in front of it
        // is never written (a hole).
        let start = alignedBlockStart(s.nextFree, bitmapSize: bitmapSize, alignment: dataAlignment)
        let sector = start / 512
        guard sector < UInt64(unallocatedBlock), start + bitmapSize + blockSize + 512 <= UInt64(UInt32.max) * 512 else {
            throw .corrupt("the file would outgrow the 32-bit sector offsets of the BAT")
        }
        s.bat[block] = UInt32(sector)
        s.newBlocks.insert(block)
        s.store(SectorBitmap(byteCount: Int(bitmapSize)), for: block)
        s.nextFree = start + bitmapSize + blockSize
        s.fileSize = max(s.fileSize, start + bitmapSize)
        if let at = s.trailingFooterAt, at < s.nextFree { s.trailingFooterAt = nil }
        return UInt32(sector)
    }

    // MARK: Flush

    /// This image's file and its parents' files, child first.
    public func backingFiles() -> [FileIdentity] {
        [io.fileIdentity()].compactMap { $0 } + (parent?.backingFiles() ?? [])
    }

    /// Makes every completed write durable. Order: (1) bitmaps of new blocks (but those
    /// already written when the block became full) and the trailing
    /// footer at the new end of the file, then `fdatasync` — data, bitmaps and footer are now
    /// on disk but no BAT entry refers to the new blocks yet; (2) BAT sectors and changed
    /// bitmaps of older blocks, then `fdatasync`. A crash before (2) completes loses only
    /// allocations made since the previous flush, which read as before.
    public func flush() throws(BlockDeviceError) {
        if isReadOnly { return }
        if diskType == .fixed {
            try io.sync()
            return
        }
        try state.withLock { (s) throws(BlockDeviceError) in
            let footerNeeded = s.trailingFooterAt == nil
            guard s.isDirty || footerNeeded else {
                try io.sync()
                return
            }
            // Phase 1: everything nothing refers to yet.
            for block in s.newBlocks.sorted() where !s.newBitmapsWritten.contains(block) {
                let bitmap = s.bitmaps[block] ?? SectorBitmap(byteCount: Int(bitmapSize))
                try io.writeBytes(bitmap.bytes, at: UInt64(s.bat[block]) * 512)
            }
            if footerNeeded {
                try io.writeBytes(footerBytes, at: s.nextFree)
                if s.fileSize > s.nextFree + 512 { try io.truncate(to: s.nextFree + 512) }
                s.fileSize = s.nextFree + 512
                s.trailingFooterAt = s.nextFree
            }
            try io.sync()
            // Phase 2: the references.
            if let header {
                var sectors = Set<Int>()
                for block in s.newBlocks { sectors.insert(block / 128) }
                for block in s.dirtyBAT { sectors.insert(block / 128) }
                try writeBAT(s.bat, header: header, sectors: sectors)
            }
            for block in s.dirtyBitmaps.sorted() where s.bat[block] != unallocatedBlock {
                if let bitmap = s.bitmaps[block] {
                    try io.writeBytes(bitmap.bytes, at: UInt64(s.bat[block]) * 512)
                }
            }
            try io.sync()
            s.newBlocks.removeAll()
            s.newBitmapsWritten.removeAll()
            s.dirtyBAT.removeAll()
            s.dirtyBitmaps.removeAll()
        }
    }

    // MARK: Discard

    /// Fixed disk: punches a hole (reads zeros). Dynamic disk: clears the bitmap bits of whole
    /// sectors and punches holes; a block left empty is released (its BAT entry cleared at the
    /// next flush). Differencing disk: nothing — clearing bits would expose the parent's data.
    public func discard(offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: length)
        switch diskType {
        case .fixed:
            try io.punchSectors(at: offset, length: length)
        case .differencing:
            return
        case .dynamic:
            let start = alignUp(offset, 512)
            let end = (offset + length) / 512 * 512
            guard end > start else { return }
            try forEachBlockPiece(offset: start, count: Int(end - start)) {
                (block, inBlock, _, count) throws(BlockDeviceError) in
                try state.withLock { (s) throws(BlockDeviceError) in
                    let entry = s.bat[block]
                    guard entry != unallocatedBlock else { return }
                    var bitmap = try loadBitmap(&s, block: block, entry: entry)
                    let sectors = (inBlock / 512)..<((inBlock + count) / 512)
                    try io.punchHole(at: dataOffset(ofBlockAt: entry) + UInt64(inBlock), length: UInt64(count))
                    guard bitmap.assign(sectors, to: false) else { return }
                    s.store(bitmap, for: block)
                    if bitmap.noneSet(0..<sectorsPerBlock), !s.newBlocks.contains(block) {
                        // Release the whole block; its space stays until `compact`.
                        s.bat[block] = unallocatedBlock
                        s.dirtyBAT.insert(block)
                        s.dirtyBitmaps.remove(block)
                        s.store(nil, for: block)
                    } else if !s.newBlocks.contains(block) {
                        s.dirtyBitmaps.insert(block)
                    }
                }
            }
        }
    }
}
