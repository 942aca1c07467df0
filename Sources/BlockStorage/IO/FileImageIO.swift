import CHostSupport
import HostSupport
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// ``ImageIO`` on an open file descriptor, which it owns and closes exactly once.
///
/// ## Write-behind
///
/// A writable file starts the kernel's writeback of its dirty pages after every
/// ``writeBehind`` bytes written (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not
/// wait for the disk). Data then streams to the disk while the guest keeps writing instead of
/// piling up in the page cache until the next ``sync()``: a flush has at most about one
/// window left to write, so its latency stays bounded, and sequential writes plus their flush
/// finish sooner on a machine with a spare core. Durability is unchanged — only ``sync()``
/// promises anything — and so is crash consistency, which never relies on data staying out
/// of the disk. Pass `writeBehind: nil` to leave writeback to the kernel.
public final class FileImageIO: ImageIO {
    /// Bytes written between two starts of writeback when none is given.
    public static let defaultWriteBehind: UInt64 = 8 << 20

    /// The path the file was opened with (for messages).
    public let path: String
    /// Whether the descriptor was opened without write access.
    public let isReadOnly: Bool
    /// Bytes written between two starts of writeback, or nil for none (always nil when
    /// read-only).
    public let writeBehind: UInt64?
    private let owned: OwnedDescriptor
    private var fd: Int32 { owned.raw.rawValue }
    /// Bytes written so far (wrapping), to find where each write-behind window ends.
    private let bytesWritten = Atomic<UInt64>(0)
    private let writebacks = Atomic<Int>(0)

    /// How many times writeback has been started (see "Write-behind").
    public var writebacksStarted: Int { writebacks.load(ordering: .relaxed) }

    /// Opens `path` and locks it as `locking` says (``ImageLocking``: by default exclusively
    /// when writable, shared when read-only); creates it (mode 0644) when `create` is set,
    /// truncating any old content when `truncate` is set too — only once the lock is held, so a
    /// file in use is never cut. `writeBehind` (bytes, more than 0) sets the write-behind
    /// window of a writable file; nil turns write-behind off.
    ///
    /// - Throws: ``BlockDeviceError/locked(_:)`` when another open of the file holds a
    ///   conflicting lock (in this process or another); ``BlockDeviceError/io(operation:errno:)``
    ///   when the file cannot be opened or locked, `EISDIR` for a directory.
    public init(
        path: String, readOnly: Bool, create: Bool = false, truncate: Bool = false,
        writeBehind: UInt64? = FileImageIO.defaultWriteBehind, locking: ImageLocking = .automatic
    ) throws(BlockDeviceError) {
        var flags = readOnly ? O_RDONLY : O_RDWR
        flags |= O_CLOEXEC
        if create { flags |= O_CREAT }
        let descriptor = OwnedDescriptor(rawValue: try systemCall("open") { Glibc.open(path, flags, 0o644) })
        var info = stat()
        if fstat(descriptor.raw.rawValue, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw .io(operation: "open", errno: .isDirectory)  // `descriptor` closes as it goes
        }
        // A conflict throws and `descriptor` closes, which drops the locks taken so far.
        try ImageLockRequest(readOnly: readOnly, locking: locking)?.apply(to: descriptor.raw, path: path)
        if truncate, !readOnly {
            try systemCall("ftruncate") { ftruncate(descriptor.raw.rawValue, 0) }
        }
        self.owned = descriptor
        self.path = path
        self.isReadOnly = readOnly
        self.locking = locking
        self.writeBehind = readOnly ? nil : writeBehind.flatMap { $0 > 0 ? $0 : nil }
    }

    /// How the file is locked (``ImageLocking``); the locks last as long as this object.
    public let locking: ImageLocking

    /// The device and inode numbers of the file (to recognise the same file under two names).
    public func identity() throws(BlockDeviceError) -> FileIdentity {
        var info = stat()
        try systemCall("fstat") { fstat(fd, &info) }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The file's identity (``identity()``), or `nil` if `fstat` fails.
    public func fileIdentity() -> FileIdentity? { try? identity() }

    /// Reads with `pread` until `buffer` is full or the file ends, retrying after `EINTR`;
    /// returns the number of bytes read (fewer than `buffer.count` only at the end of the file).
    ///
    /// - Throws: ``BlockDeviceError/io(operation:errno:)`` when `pread` fails.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) -> Int {
        try Self.read(descriptor: fd, into: buffer, at: offset)
    }

    /// The descriptor, for a hot path that reads without going through `any ImageIO` (the VHD
    /// target's `VHDImage` fast path). Owned by this object: valid while it lives.
    package var descriptor: Int32 { fd }

    /// `pread`s into `buffer` until it is full or the file ends; returns the bytes read.
    package static func read(descriptor fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64)
        throws(BlockDeviceError) -> Int
    {
        try repeatUntilDone(buffer.count, "pread", endOfFileStops: true) { done in
            pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        }
    }

    /// ``read(descriptor:into:at:)`` that treats a short read as an error.
    @inline(__always)
    package static func readExactly(descriptor fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64)
        throws(BlockDeviceError)
    {
        let count = try read(descriptor: fd, into: buffer, at: offset)
        if count != buffer.count { throw shortRead(offset: offset, count: count, wanted: buffer.count) }
    }

    /// Writes all of `buffer` with `pwrite` (resuming short writes, retrying after `EINTR`), then counts
    /// the bytes towards the write-behind window.
    ///
    /// - Throws: ``BlockDeviceError/io(operation:errno:)`` when `pwrite` fails or writes nothing.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        _ = try Self.repeatUntilDone(buffer.count, "pwrite", endOfFileStops: false) { done in
            pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        }
        wrote(buffer.count)
    }

    /// Counts `count` written bytes and starts writeback when they end a write-behind window.
    /// Advisory: a failure (say, a file system without it) changes nothing and is ignored;
    /// errors of the writeback itself surface at the next ``sync()``.
    @inline(__always)
    private func wrote(_ count: Int) {
        guard let window = writeBehind, count > 0 else { return }
        let before = bytesWritten.wrappingAdd(UInt64(count), ordering: .relaxed).oldValue
        if before / window != (before &+ UInt64(count)) / window {
            writebacks.wrappingAdd(1, ordering: .relaxed)
            _ = chost_start_writeback(fd)
        }
    }

    /// Calls `call(bytesDoneSoFar)` until `count` bytes are transferred (HostSupport's
    /// `SystemCall.transferAll`, `EINTR` retried). A zero return ends a read (end of file) and
    /// is an I/O error for a write.
    private static func repeatUntilDone(_ count: Int, _ operation: String, endOfFileStops: Bool, _ call: (Int) -> Int)
        throws(BlockDeviceError) -> Int
    {
        do {
            return try SystemCall.transferAll(count, operation, zeroEndsTransfer: endOfFileStops, call)
        } catch {
            throw BlockDeviceError(error)
        }
    }

    /// Vectored positional read (`preadv`); returns the number of bytes read.
    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) -> Int {
        var vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        let total = buffers.reduce(0) { $0 + $1.count }
        let n = try vectors.withUnsafeMutableBufferPointer { (vectors) throws(BlockDeviceError) in
            try systemCall("preadv") { preadv(fd, vectors.baseAddress, Int32(vectors.count), off_t(offset)) }
        }
        if n < total, n > 0 {
            // Finish a short read buffer by buffer.
            var skip = n
            var position = offset + UInt64(n)
            var done = n
            for buffer in buffers {
                if skip >= buffer.count { skip -= buffer.count; continue }
                let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[skip...])
                skip = 0
                let got = try read(into: rest, at: position)
                position += UInt64(got)
                done += got
                if got < rest.count { break }
            }
            return done
        }
        return n
    }

    /// Vectored positional write (`pwritev`).
    public func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        var vectors = buffers.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        let total = buffers.reduce(0) { $0 + $1.count }
        let n = try vectors.withUnsafeMutableBufferPointer { (vectors) throws(BlockDeviceError) in
            try systemCall("pwritev") { pwritev(fd, vectors.baseAddress, Int32(vectors.count), off_t(offset)) }
        }
        wrote(n)
        if n < total {
            var skip = n
            var position = offset + UInt64(n)
            for buffer in buffers {
                if skip >= buffer.count { skip -= buffer.count; continue }
                let rest = UnsafeRawBufferPointer(rebasing: buffer[skip...])
                skip = 0
                try write(rest, at: position)
                position += UInt64(rest.count)
            }
        }
    }

    /// The file size from `fstat`.
    public func size() throws(BlockDeviceError) -> UInt64 {
        var info = stat()
        try systemCall("fstat") { fstat(fd, &info) }
        return UInt64(info.st_size)
    }

    /// Sets the file size with `ftruncate`.
    public func truncate(to size: UInt64) throws(BlockDeviceError) {
        try systemCall("ftruncate") { ftruncate(fd, off_t(size)) }
    }

    /// Makes completed writes and the file size durable with `fdatasync`.
    public func sync() throws(BlockDeviceError) {
        try systemCall("fdatasync") { fdatasync(fd) }
    }

    /// Deallocates the range with `fallocate(PUNCH_HOLE | KEEP_SIZE)`; on a file system without hole
    /// punching (`EOPNOTSUPP`, `ENOSYS`) writes zeros over it instead. A zero `length` does nothing.
    public func punchHole(at offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        guard length > 0 else { return }
        let result = chost_punch_hole(fd, Int64(offset), Int64(length))
        guard result != 0 else { return }
        let error = Errno(rawValue: -result)
        guard error == .notSupported || error == .noFunction else {
            throw .io(operation: "fallocate(PUNCH_HOLE)", errno: error)
        }
        // No hole punching on this file system: write zeros instead.
        let zeros = [UInt8](repeating: 0, count: Int(min(length, 1 << 20)))
        var position = offset
        while position < offset + length {
            let n = Int(min(UInt64(zeros.count), offset + length - position))
            try writeBytes(Array(zeros[..<n]), at: position)
            position += UInt64(n)
        }
    }
}

/// Runs a system call through HostSupport's retrying helper and maps a failure to
/// ``BlockDeviceError/io(operation:errno:)``.
@inline(__always)
@discardableResult
func systemCall<R: SignedInteger>(_ name: @autoclosure () -> String, _ call: () -> R) throws(BlockDeviceError) -> R {
    do {
        return try SystemCall.retrying(name(), call)
    } catch {
        throw BlockDeviceError(error)
    }
}

/// A file's identity on its file system (device and inode numbers).
public struct FileIdentity: Hashable, Sendable {
    /// The device number of the file system holding the file (`st_dev`).
    public let device: UInt64
    /// The file's inode number on that file system (`st_ino`).
    public let inode: UInt64

    /// The identity of the file at `path`, following symbolic links; `nil` when there is none
    /// (no such file, or it cannot be examined).
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The identity with these numbers.
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}
