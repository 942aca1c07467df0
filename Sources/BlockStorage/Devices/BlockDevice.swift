/// A disk backend: a linear array of bytes made of fixed-size logical sectors.
///
/// Any disk image format or device adopts this protocol; a virtual block device (virtio-blk)
/// depends only on it. Conforming types are safe to read from several threads at once;
/// writes are serialised by the implementation only where its metadata changes.
public protocol BlockDevice: AnyObject, Sendable {
    /// The size of one logical sector in bytes (a power of two, usually 512).
    var logicalSectorSize: Int { get }
    /// The size of the device in bytes (a multiple of ``logicalSectorSize``).
    var capacity: UInt64 { get }
    /// Whether writes, flushes that would write metadata and discards are refused.
    var isReadOnly: Bool { get }

    /// Fills `buffer` with the bytes at `offset`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError)
    /// Stores `buffer` at `offset`; durable only after the next successful ``flush()``.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError)
    /// Makes every write that completed before this call durable.
    func flush() throws(BlockDeviceError)
    /// Tells the device that the bytes in the range are no longer needed. Afterwards the range
    /// reads back either unchanged or as zeros, depending on the backend.
    func discard(offset: UInt64, length: UInt64) throws(BlockDeviceError)

    /// Fills the buffers one after the other with the bytes starting at `offset`.
    func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(BlockDeviceError)
    /// Stores the buffers one after the other starting at `offset`.
    func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError)

    /// The files whose contents this device reads (an image's own file and, for a differencing
    /// image, its parents'): what a tool checks so that it never writes a new image over its
    /// own source. Empty (the default) for a device with no backing file.
    func backingFiles() -> [FileIdentity]
}

extension BlockDevice {
    /// No backing file.
    public func backingFiles() -> [FileIdentity] { [] }
}

extension BlockDevice {
    /// The number of logical sectors of the device.
    public var sectorCount: UInt64 { capacity / UInt64(logicalSectorSize) }

    /// Checks that `length` bytes at `offset` lie inside the device.
    public func checkRange(offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        let (end, overflow) = offset.addingReportingOverflow(length)
        if overflow || end > capacity {
            throw .outOfRange(offset: offset, length: length, capacity: capacity)
        }
    }

    /// Vectored read, one buffer after the other.
    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        var position = offset
        for buffer in buffers {
            try read(into: buffer, at: position)
            position += UInt64(buffer.count)
        }
    }

    /// Vectored write, one buffer after the other.
    public func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        var position = offset
        for buffer in buffers {
            try write(buffer, at: position)
            position += UInt64(buffer.count)
        }
    }

    /// Reads whole sectors starting at logical sector `sector`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, sector: UInt64) throws(BlockDeviceError) {
        try read(into: buffer, at: try sectorOffset(sector, length: buffer.count))
    }

    /// Writes whole sectors starting at logical sector `sector`.
    public func write(_ buffer: UnsafeRawBufferPointer, sector: UInt64) throws(BlockDeviceError) {
        try write(buffer, at: try sectorOffset(sector, length: buffer.count))
    }

    /// Reads `length` bytes at `offset` into a new array.
    public func read(at offset: UInt64, length: Int) throws(BlockDeviceError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        try withMutableBytes(&bytes) { (buffer) throws(BlockDeviceError) in try read(into: buffer, at: offset) }
        return bytes
    }

    /// Writes `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: UInt64) throws(BlockDeviceError) {
        try withBytes(bytes) { (buffer) throws(BlockDeviceError) in try write(buffer, at: offset) }
    }

    private func sectorOffset(_ sector: UInt64, length: Int) throws(BlockDeviceError) -> UInt64 {
        let size = UInt64(logicalSectorSize)
        let (offset, overflow) = sector.multipliedReportingOverflow(by: size)
        guard !overflow, length % logicalSectorSize == 0 else {
            throw .outOfRange(offset: sector &* size, length: UInt64(length), capacity: capacity)
        }
        return offset
    }
}
