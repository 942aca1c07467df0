import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

extension GuestMemoryAccess {
    /// Reads up to `count` bytes from `descriptor` straight into guest memory at `address`
    /// with `preadv(2)` (or `readv(2)` when `fileOffset` is `nil`, using and advancing the
    /// file position) — no bounce buffer. Returns the number of bytes transferred, which is
    /// less than `count` only at end of file.
    ///
    /// The guest range is checked before any byte moves. Interrupted and short transfers are
    /// resumed. Only the bytes actually transferred are marked dirty.
    public func read(
        from descriptor: FileDescriptor, at fileOffset: Int64? = nil, into address: GuestAddress, count: Int
    )
        throws(GuestMemoryError) -> Int
    {
        try withHostSegments(at: address, count: count, forWriting: true) { (segments) throws(GuestMemoryError) in
            let n = try transferVectored(segments, descriptor: descriptor, fileOffset: fileOffset, reading: true)
            return (n, n)
        }
    }

    /// Writes `count` bytes of guest memory at `address` straight to `descriptor` with
    /// `pwritev(2)` (or `writev(2)` when `fileOffset` is `nil`) — no bounce buffer. Returns the
    /// number of bytes transferred (all of them unless the descriptor stops accepting data).
    public func write(
        to descriptor: FileDescriptor, at fileOffset: Int64? = nil, from address: GuestAddress, count: Int
    )
        throws(GuestMemoryError) -> Int
    {
        try withHostSegments(at: address, count: count, forWriting: false) { (segments) throws(GuestMemoryError) in
            (try transferVectored(segments, descriptor: descriptor, fileOffset: fileOffset, reading: false), 0)
        }
    }

    /// Like ``read(from:at:into:count:)`` but fails with
    /// ``GuestMemoryError/unexpectedEndOfFile(expected:transferred:)`` on a short read.
    public func readExactly(
        from descriptor: FileDescriptor, at fileOffset: Int64? = nil, into address: GuestAddress, count: Int
    )
        throws(GuestMemoryError)
    {
        let n = try read(from: descriptor, at: fileOffset, into: address, count: count)
        if n != count { throw .unexpectedEndOfFile(expected: count, transferred: n) }
    }
}

/// Moves bytes between `descriptor` and `segments` with vectored I/O, resuming after `EINTR`
/// and short transfers; stops early only when the kernel reports 0 bytes (end of file).
func transferVectored(
    _ segments: UnsafeBufferPointer<UnsafeMutableRawBufferPointer>,
    descriptor: FileDescriptor, fileOffset: Int64?, reading: Bool
) throws(GuestMemoryError) -> Int {
    let total = segments.reduce(0) { $0 + $1.count }
    guard total > 0 else { return 0 }
    if let offset = fileOffset, offset < 0 || offset > Int64.max - Int64(total) {
        throw .system(reading ? "preadv" : "pwritev", .invalidArgument)  // what the kernel would say
    }
    let maxVectors = 1024  // IOV_MAX on Linux
    return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: segments.count) {
        (vectors) throws(GuestMemoryError) -> Int in
        for (i, s) in segments.enumerated() {
            vectors.initializeElement(at: i, to: iovec(iov_base: s.baseAddress, iov_len: s.count))
        }
        var first = 0
        var done = 0
        while done < total {
            let start = vectors.baseAddress.unsafelyUnwrapped + first
            let n = Int32(min(segments.count - first, maxVectors))
            let result: Int
            do throws(SystemCallError) {
                result = try SystemCall.retrying(reading ? "preadv" : "pwritev") { () -> Int in
                    switch (reading, fileOffset) {
                    case (true, let offset?): preadv(descriptor.rawValue, start, n, off_t(offset + Int64(done)))
                    case (true, nil): readv(descriptor.rawValue, start, n)
                    case (false, let offset?): pwritev(descriptor.rawValue, start, n, off_t(offset + Int64(done)))
                    case (false, nil): writev(descriptor.rawValue, start, n)
                    }
                }
            } catch {
                throw .system(error.operation, error.errno)
            }
            if result == 0 { break }
            done += result
            // Skip fully transferred vectors and trim the partially transferred one.
            var consumed = result
            while first < segments.count, consumed >= vectors[first].iov_len {
                consumed -= vectors[first].iov_len
                first += 1
            }
            if consumed > 0 {
                vectors[first].iov_base = vectors[first].iov_base.map { $0 + consumed }
                vectors[first].iov_len -= consumed
            }
        }
        return done
    }
}
