/// Positional file I/O beneath a disk image: the seam where tests inject faults.
///
/// ``FileImageIO`` is the production implementation; a test can supply one that fails or
/// loses writes to simulate a crash.
public protocol ImageIO: AnyObject, Sendable {
    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (fewer only at
    /// the end of the file).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) -> Int
    /// Writes all of `buffer` at `offset`, extending the file if needed.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError)
    /// The current size of the file in bytes.
    func size() throws(BlockDeviceError) -> UInt64
    /// Sets the file size (shrinking drops the tail, growing adds a hole).
    func truncate(to size: UInt64) throws(BlockDeviceError)
    /// Makes all completed writes and the file size durable (`fdatasync`).
    func sync() throws(BlockDeviceError)
    /// Deallocates the range so that it reads back as zeros (keeps the file size).
    func punchHole(at offset: UInt64, length: UInt64) throws(BlockDeviceError)
    /// The identity of the file beneath, when there is one (`nil` by default: a test double).
    func fileIdentity() -> FileIdentity?
}

extension ImageIO {
    /// No file beneath.
    public func fileIdentity() -> FileIdentity? { nil }
}

extension ImageIO {
    /// Reads exactly `buffer.count` bytes at `offset`, treating a short read as an error.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        let count = try read(into: buffer, at: offset)
        if count != buffer.count { throw shortRead(offset: offset, count: count, wanted: buffer.count) }
    }

    /// Reads exactly `count` bytes at `offset` into a new array. `count` must already be
    /// checked against the file size by the caller.
    public func readBytes(at offset: UInt64, count: Int) throws(BlockDeviceError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try withMutableBytes(&bytes) { (buffer) throws(BlockDeviceError) in try readExactly(into: buffer, at: offset) }
        return bytes
    }

    /// Punches a hole over the whole sectors inside the range (partial sectors are left alone).
    public func punchSectors(at offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        let start = alignUp(offset, 512)
        let end = (offset + length) / 512 * 512
        if end > start { try punchHole(at: start, length: end - start) }
    }

    /// Writes `bytes` at `offset`.
    public func writeBytes(_ bytes: [UInt8], at offset: UInt64) throws(BlockDeviceError) {
        try withBytes(bytes) { (buffer) throws(BlockDeviceError) in try write(buffer, at: offset) }
    }
}

/// The error for a read of `wanted` bytes at `offset` that found only `count` before the end
/// of the file.
package func shortRead(offset: UInt64, count: Int, wanted: Int) -> BlockDeviceError {
    .corrupt("file ends at \(offset + UInt64(count)), \(wanted - count) bytes short of a read at \(offset)")
}
