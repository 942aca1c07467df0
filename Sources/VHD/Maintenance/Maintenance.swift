import BlockStorage

extension VHDImage {
    // MARK: Resize

    /// Forgets what a dynamic or differencing file stores past the end of the disk — blocks
    /// wholly past it are released, and in the block that straddles it the bits of sectors
    /// past it are cleared — and flushes, so that growing the disk shows zeros (or the
    /// parent's data) there, never stale data. Invisible until the disk grows.
    func forgetDataPastTheEnd() throws(BlockDeviceError) {
        let endSector = Int(capacity / 512)
        let changed = try state.withLock { (s) throws(BlockDeviceError) -> Bool in
            var changed = false
            for block in s.bat.indices where s.bat[block] != unallocatedBlock {
                let first = block * sectorsPerBlock
                if first >= endSector {
                    s.bat[block] = unallocatedBlock
                    s.store(nil, for: block)
                    s.newBlocks.remove(block)
                    s.dirtyBitmaps.remove(block)
                    s.dirtyBAT.insert(block)
                    changed = true
                } else if first + sectorsPerBlock > endSector {
                    var bitmap = try loadBitmap(&s, block: block, entry: s.bat[block])
                    if bitmap.assign((endSector - first)..<sectorsPerBlock, to: false) {
                        s.store(bitmap, for: block)
                        if !s.newBlocks.contains(block) { s.dirtyBitmaps.insert(block) }
                        changed = true
                    }
                }
            }
            return changed
        }
        if changed { try flush() }
    }

    /// Changes the disk size. Growing a fixed disk moves its footer; growing a dynamic or
    /// differencing disk extends the BAT in its padding or moves it to the end of the file.
    /// Shrinking is allowed only when nothing is stored past the new size (for a fixed disk:
    /// the cut-off tail reads as zeros).
    public static func resize(path: String, to newSize: UInt64) throws(VHDError) {
        guard newSize > 0, newSize % 512 == 0, newSize <= maximumVHDSize else {
            throw .invalidRequest("new size \(newSize) must be a positive multiple of 512 up to 2040 GiB")
        }
        try resize(image: open(path: path), to: newSize)
    }

    /// ``resize(path:to:)`` on an image opened for writing; the object must not be used for
    /// I/O afterwards (reopen the file).
    static func resize(image: VHDImage, to newSize: UInt64) throws(VHDError) {
        if !image.openProblems.filter({ $0.severity != .notice }).isEmpty {
            throw .invalidRequest("the image is damaged (\(image.openProblems[0].error)); run check --repair first")
        }
        try lifting { () throws(BlockDeviceError) in try image.flush() }
        let oldSize = image.capacity
        guard newSize != oldSize else { return }
        var footer = image.footer
        footer.currentSize = newSize
        footer.geometry = DiskGeometry.forSectorCount(newSize / 512)
        let io = image.io
        if image.diskType == .fixed {
            if newSize < oldSize {
                var offset = newSize
                while offset < oldSize {
                    let n = Int(min(1 << 20, oldSize - offset))
                    if try lifting({ () throws(BlockDeviceError) in try io.readBytes(at: offset, count: n) }).contains(
                        where: { $0 != 0 })
                    {
                        throw .invalidRequest("cannot shrink: the disk holds data past \(newSize) bytes")
                    }
                    offset += UInt64(n)
                }
            }
            try lifting { () throws(BlockDeviceError) in
                // Growing turns what lay between the disk's end and the file's end into disk
                // data: bytes the file holds past the disk (before the footer) are zeroed while
                // the old footer still rules, and the old footer once the new one does.
                let oldFooterAt = try io.size() - 512
                if newSize > oldSize, min(newSize, oldFooterAt) > oldSize {
                    try io.punchHole(at: oldSize, length: min(newSize, oldFooterAt) - oldSize)
                    try io.sync()
                }
                try io.writeBytes(footer.serialized(), at: newSize)
                try io.sync()
                if newSize > oldFooterAt {
                    try io.punchHole(at: oldFooterAt, length: min(512, newSize - oldFooterAt))
                }
                try io.truncate(to: newSize + 512)
                try io.sync()
            }
            return
        }
        guard var header = image.header else { return }
        let blockSize = UInt64(header.blockSize)
        let needed = blockCount(covering: newSize, blockSize: blockSize)
        if newSize < oldSize {
            if let last = try lifting({ () throws(BlockDeviceError) in try image.storedExtents() }).last,
                last.offset + last.length > newSize
            {
                throw .invalidRequest(
                    "cannot shrink: data is stored past \(newSize) bytes (up to \(last.offset + last.length))")
            }
        }
        guard needed <= UInt64(UInt32.max) else { throw .invalidRequest("too many blocks") }
        try lifting { () throws(BlockDeviceError) in
            if newSize > oldSize { try image.forgetDataPastTheEnd() }
            var s = image.state.withLock { $0 }
            if needed > UInt64(header.maxTableEntries) {
                var bat = s.bat
                bat += [UInt32](repeating: unallocatedBlock, count: Int(needed) - bat.count)
                if needed * 4 <= header.tableSize {
                    // Room in the BAT's padding: make sure the new entries read as unallocated.
                    header.maxTableEntries = UInt32(needed)
                    try image.writeBAT(bat, header: header, sectors: Set((s.bat.count / 128)...((bat.count - 1) / 128)))
                    try io.sync()
                } else {
                    // Move the BAT to the end of the file (the old one becomes unused space).
                    var moved = header
                    moved.tableOffset = alignUp(s.nextFree, 512)
                    moved.maxTableEntries = UInt32(needed)
                    try image.writeBAT(bat, header: moved, sectors: nil)
                    let end = moved.tableOffset + moved.tableSize
                    try io.writeBytes(image.footerBytes, at: end)  // still the old size
                    try io.sync()
                    try io.truncate(to: end + 512)
                    header = moved
                    s.nextFree = end
                }
                let (tableOffset, entries) = (header.tableOffset, header.maxTableEntries)
                try image.rewriteHeaderFirstSector {
                    $0.setBE64(tableOffset, at: VHDDynamicHeader.tableOffsetOffset)
                    $0.setBE32(entries, at: VHDDynamicHeader.maxTableEntriesOffset)
                }
                try io.sync()
            }
            let bytes = footer.serialized()
            try io.writeBytes(bytes, at: s.nextFree)
            try io.truncate(to: s.nextFree + 512)
            try io.sync()
            try io.writeBytes(bytes, at: 0)
            try io.sync()
        }
    }

    // MARK: Commit

    /// Merges the differencing disk at `path` into its parent, as `qemu-img commit` does:
    /// every sector stored in the child is written to the parent, which is flushed; then the
    /// child is emptied (every BAT entry unallocated, the file cut after its metadata), so the
    /// chain reads exactly as before. A crash at any point leaves a chain that reads as before:
    /// the parent is flushed before the child's BAT is cleared (synced), and the child's new
    /// trailing footer is synced before the file is cut. Fails without writing anything when the
    /// child stores data past the end of a smaller parent.
    ///
    /// - Returns: the parent's path and the number of bytes copied into it.
    /// - Throws: ``VHDError/invalidRequest(_:)`` when `path` is not a differencing disk, the
    ///   child is damaged or stores data past the parent's end; ``VHDError/parentMismatch(path:expected:found:)``; I/O errors as
    ///   ``VHDError/device(_:)``.
    public static func commit(path: String, progress: (Double) -> Void = { _ in }) throws(VHDError) -> (
        parentPath: String, bytes: UInt64
    ) {
        // Find the parent with a read-only open (which locks it shared, and is closed again),
        // then take the parent for writing and open the child writable on top of it: a
        // writable parent and a reader of it may not coexist, even in one process.
        let parentPath: String
        do {
            let probe = try open(path: path, readOnly: true)
            guard probe.diskType == .differencing, let found = probe.parentPath else {
                throw .invalidRequest("\(path) is not a differencing disk")
            }
            parentPath = found
        }
        let parent = try open(path: parentPath)
        let child = try open(path: path, readOnly: false, visited: [], parentGiven: (parent, parentPath))
        return (parentPath, try commit(child: child, into: parent, progress: progress))
    }

    /// ``commit(path:progress:)`` on opened, writable images; returns the bytes copied. Order:
    /// (1) the child's sectors are written to the parent and the parent is flushed — until then
    /// the child still covers every one of them, so the chain reads as before whatever part of
    /// the parent reached the disk; (2) the child's BAT is rewritten all unallocated and
    /// synced — each entry, cleared or not, now reads the same data; (3) a footer is written
    /// after the child's metadata and synced, then the file is cut behind it; (4) the child's
    /// header records the parent's new modification time (one sector, synced). Neither image
    /// may be used for I/O afterwards (reopen them).
    static func commit(child: VHDImage, into parent: VHDImage, progress: (Double) -> Void) throws(VHDError) -> UInt64 {
        guard child.diskType == .differencing, let header = child.header else {
            throw .invalidRequest("\(child.path) is not a differencing disk")
        }
        guard parent.footer.uniqueID == header.parentUniqueID else {
            throw .parentMismatch(path: parent.path, expected: header.parentUniqueID, found: parent.footer.uniqueID)
        }
        if !child.openProblems.filter({ $0.severity != .notice }).isEmpty {
            throw .invalidRequest("the image is damaged (\(child.openProblems[0].error)); run check --repair first")
        }
        let extents = try lifting { () throws(BlockDeviceError) in
            try child.flush()
            return try child.storedExtents()
        }
        if let last = extents.last, last.offset + last.length > parent.capacity {
            throw .invalidRequest(
                "\(child.path) stores data up to \(last.offset + last.length) bytes, past the end of its parent (\(parent.capacity) bytes); resize the parent first"
            )
        }
        let total = extents.reduce(0) { $0 + $1.length }
        var copied: UInt64 = 0
        try lifting { () throws(BlockDeviceError) in
            for extent in extents {
                var done: UInt64 = 0
                while done < extent.length {
                    let n = Int(min(1 << 20, extent.length - done))
                    let data = try child.io.readBytes(at: extent.fileOffset + done, count: n)
                    try parent.write(data, at: extent.offset + done)
                    done += UInt64(n)
                    copied += UInt64(n)
                    progress(Double(copied) / Double(max(total, 1)) * 0.99)
                }
            }
            try parent.flush()
            try child.makeEmpty(header: header)
            // (4) The parent changed: the child records its new modification time, so that
            // tools comparing the two (and `check`) see a current link.
            if let modified = VHDTimestamp.modificationTime(ofFile: parent.path) {
                try child.rewriteHeaderFirstSector { $0.setBE32(modified, at: VHDDynamicHeader.parentTimestampOffset) }
                try child.io.sync()
            }
        }
        progress(1)
        return copied
    }

    /// Drops every block of a dynamic or differencing image: the BAT becomes all unallocated
    /// (synced), then a footer goes right after the metadata (synced) and the file is cut
    /// behind it. A crash leaves either the old BAT, a mix of old and cleared entries, or the
    /// empty image; with a trailing footer in every case.
    func makeEmpty(header: VHDDynamicHeader) throws(BlockDeviceError) {
        try state.withLock { (s) throws(BlockDeviceError) in
            // Lock-free readers must stop using the blocks before they go.
            s.fullBlocks.clearAll()
            let empty = [UInt32](repeating: unallocatedBlock, count: s.bat.count)
            try writeBAT(empty, header: header, sectors: nil)
            try io.sync()
            try io.writeBytes(footerBytes, at: metadataEnd)
            try io.sync()
            try io.truncate(to: metadataEnd + 512)
            try io.sync()
            s = SparseState(
                bat: empty, fullBlocks: s.fullBlocks, bitmapSize: bitmapSize, sectorsPerBlock: sectorsPerBlock,
                nextFree: metadataEnd, trailingFooterAt: metadataEnd, fileSize: metadataEnd + 512)
            s.tailTrimmed = true
        }
    }
}
