/// A raw disk image: the file's bytes are the disk's bytes.
public final class RawImage: BlockDevice {
    /// Always 512 bytes.
    public let logicalSectorSize: Int = 512
    /// The disk size in bytes: the file size when opened (or created), rounded down to whole sectors.
    public let capacity: UInt64
    /// Whether the image was opened read-only; writes and discards then throw
    /// ``BlockDeviceError/readOnly``.
    public let isReadOnly: Bool
    /// The file beneath the image.
    public let io: FileImageIO

    /// Opens an existing raw image; its capacity is the file size rounded down to whole sectors.
    /// `writeBehind` is the ``FileImageIO`` write-behind window (nil: off); the file is locked
    /// as `locking` says (``ImageLocking``: by default exclusively when writable).
    ///
    /// - Throws: ``BlockDeviceError/locked(_:)`` when the file is in use by a conflicting open;
    ///   ``BlockDeviceError/io(operation:errno:)`` when it cannot be opened.
    public init(
        path: String, readOnly: Bool = false, writeBehind: UInt64? = FileImageIO.defaultWriteBehind,
        locking: ImageLocking = .automatic
    ) throws(BlockDeviceError) {
        io = try FileImageIO(path: path, readOnly: readOnly, writeBehind: writeBehind, locking: locking)
        capacity = try io.size() / 512 * 512
        isReadOnly = readOnly
    }

    /// Creates a raw image of `size` bytes (a multiple of 512), all zeros and sparse, replacing
    /// any file at `path` only once the new one is complete (``writeNewFile(at:locking:mapError:_:)``):
    /// a failure leaves an existing file as it was and no new file behind.
    ///
    /// - Throws: ``BlockDeviceError/outOfRange(offset:length:capacity:)`` when `size` is not a
    ///   multiple of 512 (before any file is touched); ``BlockDeviceError/io(operation:errno:)``
    ///   when the file cannot be created, sized or renamed into place.
    public convenience init(
        creating path: String, size: UInt64, writeBehind: UInt64? = FileImageIO.defaultWriteBehind
    ) throws(BlockDeviceError) {
        // `creatingInPlace` checks the size; its failure removes the temporary file.
        try writeNewFile(at: path, mapError: { $0 }) { (temporary) throws(BlockDeviceError) in
            _ = try RawImage(creatingInPlace: temporary, size: size, writeBehind: nil)
        }
        try self.init(path: path, readOnly: false, writeBehind: writeBehind)
    }

    /// Creates (or truncates) a raw image of `size` bytes at `path` in place: for a caller that
    /// writes a whole new file under a temporary name itself (a convert).
    package init(creatingInPlace path: String, size: UInt64, writeBehind: UInt64? = FileImageIO.defaultWriteBehind)
        throws(BlockDeviceError)
    {
        guard size % 512 == 0 else { throw .outOfRange(offset: 0, length: size, capacity: size / 512 * 512) }
        io = try FileImageIO(path: path, readOnly: false, create: true, truncate: true, writeBehind: writeBehind)
        try io.truncate(to: size)
        capacity = size
        isReadOnly = false
    }

    /// The raw file's identity.
    public func backingFiles() -> [FileIdentity] { (try? io.identity()).map { [$0] } ?? [] }

    /// Reads `buffer.count` bytes at `offset` from the file.
    ///
    /// - Throws: ``BlockDeviceError/outOfRange(offset:length:capacity:)`` past the capacity;
    ///   ``BlockDeviceError/corrupt(_:)`` when the file has become shorter than the capacity.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        try checkRange(offset: offset, length: UInt64(buffer.count))
        try io.readExactly(into: buffer, at: offset)
    }

    /// Writes `buffer` at `offset` of the file (durable after ``flush()``).
    ///
    /// - Throws: ``BlockDeviceError/readOnly`` on a read-only image;
    ///   ``BlockDeviceError/outOfRange(offset:length:capacity:)`` past the capacity.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: UInt64(buffer.count))
        try io.write(buffer, at: offset)
    }

    /// Fills the buffers one after the other from `offset` with one `preadv`.
    ///
    /// - Throws: as ``read(into:at:)-(UnsafeMutableRawBufferPointer,_)``.
    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        let total = buffers.reduce(0) { $0 + $1.count }
        try checkRange(offset: offset, length: UInt64(total))
        let n = try io.read(into: buffers, at: offset)
        if n != total { throw .corrupt("raw file shorter than its capacity") }
    }

    /// Writes the buffers one after the other from `offset` with one `pwritev`.
    ///
    /// - Throws: as ``write(_:at:)-(UnsafeRawBufferPointer,_)``.
    public func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        if isReadOnly { throw .readOnly }
        try checkRange(offset: offset, length: UInt64(buffers.reduce(0) { $0 + $1.count }))
        try io.write(buffers, at: offset)
    }

    /// Makes completed writes durable (`fdatasync`); does nothing for a read-only image.
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
