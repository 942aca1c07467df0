import BlockStorage

/// A run of disk bytes stored in one image file.
public struct StoredExtent: Equatable, Sendable {
    /// Disk offset of the run.
    public var offset: UInt64
    /// Length of the run in bytes.
    public var length: UInt64
    /// Where the run starts in the file.
    public var fileOffset: UInt64
}

extension VHDImage {
    /// The runs of disk data stored in this file (for a differencing disk: in this layer only;
    /// for a fixed disk: the whole disk). Adjacent runs that are contiguous on disk and in the
    /// file are merged.
    public func storedExtents() throws(BlockDeviceError) -> [StoredExtent] {
        if diskType == .fixed { return capacity == 0 ? [] : [StoredExtent(offset: 0, length: capacity, fileOffset: 0)] }
        var extents: [StoredExtent] = []
        let blocks = state.withLock { $0.bat.count }
        for block in 0..<blocks {
            let runs: [(Range<Int>, UInt64)] = try state.withLock { (s) throws(BlockDeviceError) in
                let entry = s.bat[block]
                guard entry != unallocatedBlock else { return [] }
                let bitmap = try loadBitmap(&s, block: block, entry: entry)
                return bitmap.runs(0..<sectorsPerBlock).filter(\.set).map { ($0.sectors, dataOffset(ofBlockAt: entry)) }
            }
            for (sectors, data) in runs {
                let offset = UInt64(block) * blockSize + UInt64(sectors.lowerBound) * 512
                guard offset < capacity else { continue }
                let length = min(UInt64(sectors.count) * 512, capacity - offset)
                let fileOffset = data + UInt64(sectors.lowerBound) * 512
                if var last = extents.last, last.offset + last.length == offset,
                    last.fileOffset + last.length == fileOffset
                {
                    last.length += length
                    extents[extents.count - 1] = last
                } else {
                    extents.append(StoredExtent(offset: offset, length: length, fileOffset: fileOffset))
                }
            }
        }
        return extents
    }

    /// The number of allocated blocks.
    public var allocatedBlockCount: Int { state.withLock { $0.bat.filter { $0 != unallocatedBlock }.count } }
}
