/// A raw disk image: the file's bytes are the disk's bytes.
public final class RawImage: BlockDevice {
    public let logicalSectorSize: Int = 512
    public let capacity: UInt64
    public let isReadOnly: Bool
    /// The file beneath the image.
    public let io: FileImageIO

    /// Opens an existing raw image; its capacity is the file size rounded down to whole sectors.
    /// `writeBehind` is the ``FileImageIO`` write-behind window (nil: off).
    public init(path: String, readOnly: Bool = false, writeBehind: UInt64? = FileImageIO.defaultWriteBehind) throws(BlockDeviceError) {
        io = try FileImageIO(path: path, readOnly: readOnly, writeBehind: writeBehind)
        capacity = try io.size() / 512 * 512
        isReadOnly = readOnly
    }

    /// Creates (or truncates) a raw image of `size` bytes, which must be a multiple of 512.
    public init(creating path: String, size: UInt64, writeBehind: UInt64? = FileImageIO.defaultWriteBehind) throws(BlockDeviceError) {
        guard size % 512 == 0 else { throw .outOfRange(offset: 0, length: size, capacity: size / 512 * 512) }
        io = try FileImageIO(path: path, readOnly: false, create: true, truncate: true, writeBehind: writeBehind)
        try io.truncate(to: size)
        capacity = size
        isReadOnly = false
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        try checkRange(offset: offset, length: UInt64(buffer.count))
        try io.readExactly(into: buffer, at: offset)
    }

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: UInt64(buffer.count))
        try io.write(buffer, at: offset)
    }

    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        let total = buffers.reduce(0) { $0 + $1.count }
        try checkRange(offset: offset, length: UInt64(total))
        let n = try io.read(into: buffers, at: offset)
        if n != total { throw .corrupt("raw file shorter than its capacity") }
    }

    public func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: UInt64(buffers.reduce(0) { $0 + $1.count }))
        try io.write(buffers, at: offset)
    }

    public func flush() throws(BlockDeviceError) {
        if isReadOnly { return }
        try io.sync()
    }

    /// Punches a hole over the whole sectors of the range; they read back as zeros.
    public func discard(offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: length)
        try io.punchSectors(at: offset, length: length)
    }
}
