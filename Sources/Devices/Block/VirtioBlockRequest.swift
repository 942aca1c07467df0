import BlockStorage
import GuestMemory

/// One virtio-blk request: its header parsed from the chain's readable bytes and its data
/// moved between guest memory and the disk.
///
/// Layout (section 5.2.6): readable header (16 bytes), then for `OUT` and `DISCARD` readable
/// data; for `IN` and `GET_ID` writable data; then the writable status byte.
struct VirtioBlockRequest<Memory: GuestMemoryAccess> {
    let chain: DescriptorChain
    let memory: Memory
    let disk: any BlockDevice

    private enum Failure: Error {
        case status(VirtioBlock.Status)
    }

    /// Runs the request; returns its type (nil if unknown), its status and the bytes of data
    /// written into guest memory (excluding the status byte).
    func execute(serial: [UInt8], maxDiscardSectors: UInt32, maxDiscardSegments: UInt32)
        -> (VirtioBlock.RequestType?, VirtioBlock.Status, UInt64)
    {
        let readable = chain.readableLength
        guard readable >= VirtioBlock.headerSize, let (rawType, sector) = header() else { return (nil, .ioError, 0) }
        guard let type = VirtioBlock.RequestType(rawValue: rawType) else { return (nil, .unsupported, 0) }
        // Data bytes: readable after the header (OUT, DISCARD) or writable before the status byte (IN, GET_ID).
        let readableData = readable - VirtioBlock.headerSize
        let writableData = chain.writableLength - 1
        do throws(Failure) {
            switch type {
            case .read:
                guard readableData == 0 else { throw .status(.ioError) }
                let offset = try diskRange(sector: sector, length: writableData)
                try transfer(chain.writable, offset: 0, count: writableData, diskOffset: offset, toGuest: true)
                return (type, .ok, writableData)
            case .write:
                guard writableData == 0, !disk.isReadOnly else { throw .status(.ioError) }
                let offset = try diskRange(sector: sector, length: readableData)
                try transfer(
                    chain.readable, offset: VirtioBlock.headerSize, count: readableData, diskOffset: offset,
                    toGuest: false)
            case .flush:
                guard readableData == 0 else { throw .status(.ioError) }
                do { try disk.flush() } catch { throw .status(.ioError) }
            case .getID:
                guard readableData == 0 else { throw .status(.ioError) }
                let id = serial + [UInt8](repeating: 0, count: VirtioBlock.idSize - serial.count)
                let count = min(UInt64(VirtioBlock.idSize), writableData)
                do {
                    _ = try id.withUnsafeBytes { (bytes) throws(GuestMemoryError) in
                        try chain.scatter(UnsafeRawBufferPointer(rebasing: bytes.prefix(Int(count))), into: memory)
                    }
                } catch { throw .status(.ioError) }
                return (type, .ok, count)
            case .discard:
                guard writableData == 0, !disk.isReadOnly else { throw .status(.ioError) }
                try discard(count: readableData, maxSectors: maxDiscardSectors, maxSegments: maxDiscardSegments)
            }
            return (type, .ok, 0)
        } catch {
            guard case .status(let status) = error else { return (type, .ioError, 0) }
            return (type, status, 0)
        }
    }

    /// The header's type and sector: read in place when the first buffer holds it (what
    /// drivers do), gathered from the byte stream otherwise.
    private func header() -> (UInt32, UInt64)? {
        if let first = chain.buffers.first, first.length >= 16, !first.isWritable {
            guard let type = try? memory.read(UInt32.self, at: first.address),
                let sector = try? memory.read(UInt64.self, at: GuestAddress(first.address.rawValue + 8))
            else { return nil }
            return (type, sector)
        }
        guard let header = try? readableBytes(offset: 0, count: 16) else { return nil }
        let type = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24
        var sector: UInt64 = 0
        for i in 0..<8 { sector |= UInt64(header[8 + i]) << (8 * UInt64(i)) }
        return (type, sector)
    }

    /// The byte offset of `sector`, after checking `length` is whole sectors inside the disk.
    private func diskRange(sector: UInt64, length: UInt64) throws(Failure) -> UInt64 {
        let (offset, overflow) = sector.multipliedReportingOverflow(by: VirtioBlock.sectorSize)
        guard !overflow, length % VirtioBlock.sectorSize == 0, length % UInt64(disk.logicalSectorSize) == 0 else {
            throw .status(.ioError)
        }
        do { try disk.checkRange(offset: offset, length: length) } catch { throw .status(.ioError) }
        return offset
    }

    /// Moves `count` bytes at `offset` of the buffers' byte stream to (`toGuest`) or from the
    /// disk at `diskOffset`, through the host pages that back guest memory.
    private func transfer(
        _ buffers: ArraySlice<VirtqueueBuffer>, offset: UInt64, count: UInt64, diskOffset: UInt64, toGuest: Bool
    ) throws(Failure) {
        var position = diskOffset
        for piece in BufferWindow(buffers: buffers, offset: offset, count: count) {
            var diskError: BlockDeviceError?
            do {
                try memory.withHostSegments(at: piece.address, count: piece.length, forWriting: toGuest) { segments in
                    var done = 0
                    for segment in segments {
                        do throws(BlockDeviceError) {
                            if toGuest {
                                try disk.read(into: segment, at: position + UInt64(done))
                            } else {
                                try disk.write(UnsafeRawBufferPointer(segment), at: position + UInt64(done))
                            }
                        } catch {
                            diskError = error
                            break
                        }
                        done += segment.count
                    }
                    return ((), toGuest ? done : 0)
                }
            } catch { throw .status(.ioError) }
            if diskError != nil { throw .status(.ioError) }
            position += UInt64(piece.length)
        }
    }

    /// Serves `count` bytes of discard segments that follow the header.
    private func discard(count: UInt64, maxSectors: UInt32, maxSegments: UInt32) throws(Failure) {
        let segmentSize = VirtioBlock.discardSegmentSize
        guard count > 0, count % segmentSize == 0, count / segmentSize <= UInt64(maxSegments) else {
            throw .status(.ioError)
        }
        var offset = VirtioBlock.headerSize
        while offset < VirtioBlock.headerSize + count {
            let raw: [UInt8]
            do { raw = try readableBytes(offset: offset, count: Int(segmentSize)) } catch {
                throw .status(.ioError)
            }
            var sector: UInt64 = 0
            for i in 0..<8 { sector |= UInt64(raw[i]) << (8 * UInt64(i)) }
            let sectors = UInt32(raw[8]) | UInt32(raw[9]) << 8 | UInt32(raw[10]) << 16 | UInt32(raw[11]) << 24
            let flags = UInt32(raw[12]) | UInt32(raw[13]) << 8 | UInt32(raw[14]) << 16 | UInt32(raw[15]) << 24
            guard flags & ~1 == 0 else { throw .status(.unsupported) }  // only the unmap bit is defined
            guard sectors <= maxSectors else { throw .status(.ioError) }
            let length = UInt64(sectors) * VirtioBlock.sectorSize
            let start = try diskRange(sector: sector, length: length)
            do { try disk.discard(offset: start, length: length) } catch { throw .status(.ioError) }
            offset += segmentSize
        }
    }

    /// `count` bytes (small, fixed by the protocol) at `offset` of the chain's readable bytes.
    private func readableBytes(offset: UInt64, count: Int) throws(GuestMemoryError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var failure: GuestMemoryError?
        let copied = result.withUnsafeMutableBytes { bytes in
            do throws(GuestMemoryError) {
                return try chain.gather(from: memory, skipping: offset, into: bytes)
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        guard copied == count else { throw .unmapped(GuestAddress(0)) }
        return result
    }
}
