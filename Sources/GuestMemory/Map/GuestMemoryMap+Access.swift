import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension GuestMemoryMap: GuestMemoryAccess {
    /// Checks that `count` (> 0) bytes at `address` are mapped (and writable if `forWriting`)
    /// and returns the index of the first region and the number of regions the range crosses.
    @usableFromInline
    func resolve(_ address: GuestAddress, count: Int, forWriting: Bool) throws(GuestMemoryError) -> (
        first: Int, segments: Int
    ) {
        guard count >= 0 else { throw .negativeLength(count) }
        guard let range = try? GuestAddressRange(start: address, count: UInt64(count)) else {
            throw .addressOverflow(address, offset: UInt64(count))
        }
        guard let first = index(containing: address) else { throw .unmapped(address) }
        var i = first
        var cursor = address.rawValue
        var remaining = range.count
        while true {
            let e = table[i]
            if forWriting && e.readOnly { throw .readOnly(GuestAddress(cursor)) }
            let available = e.size - (cursor - e.base)
            if remaining <= available { return (first, i - first + 1) }
            remaining -= available
            cursor += available  // cannot overflow: the range was checked above
            i += 1
            guard i < regionCount, table[i].base == cursor else { throw .unmapped(GuestAddress(cursor)) }
        }
    }

    /// Calls `body` for each region piece of a range that ``resolve(_:count:forWriting:)``
    /// accepted: the region's entry, the offset inside it, the piece's length and the number
    /// of bytes of the range before the piece. `count` may be shorter than the range `n` was
    /// resolved for (the bytes a body wrote): the walk stops once `count` bytes are covered.
    @inline(__always)
    func forEachSegment(
        _ address: GuestAddress, count: Int, first: Int, segments n: Int,
        _ body: (_ entry: TableEntry, _ offset: UInt64, _ length: Int, _ done: Int) -> Void
    ) {
        var cursor = address.rawValue
        var done = 0
        for k in 0..<n where done < count {
            let e = table[first + k]
            let offset = cursor - e.base
            let length = min(count - done, Int(e.size - offset))
            body(e, offset, length, done)
            done += length
            cursor &+= UInt64(length)
        }
    }

    /// The region entry and offset when `count` bytes at `address` lie inside one region.
    @inlinable @inline(__always)
    func singleRegion(_ address: GuestAddress, count: Int) -> (entry: TableEntry, offset: UInt64)? {
        let e = searchTable[searchNode(address.rawValue)]
        let offset = address.rawValue &- e.base
        return offset < e.size && UInt64(count) <= e.size &- offset ? (e, offset) : nil
    }

    /// Checks the range, then lends its host memory to `body`; see
    /// ``GuestMemoryAccess/withHostSegments(at:count:forWriting:_:)``.
    ///
    /// Inlinable, like ``read(into:at:)``: a range inside one region — the common case — is
    /// lent without a call, specialized in the caller for its `Result`; a generic call costs
    /// the runtime's lookup of metadata for the typed-throws machinery, more than a 16-byte
    /// descriptor read. Crossing, empty and failing ranges take the out-of-line path.
    @inlinable
    public func withHostSegments<Result>(
        at address: GuestAddress, count: Int, forWriting: Bool,
        _ body: (UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) throws(GuestMemoryError) -> (
            result: Result, bytesWritten: Int
        )
    ) throws(GuestMemoryError) -> Result {
        if count > 0, let (e, offset) = singleRegion(address, count: count), !(forWriting && e.readOnly) {
            var segment = UnsafeMutableRawBufferPointer(start: e.host + Int(offset), count: count)
            let (result, written) = try withUnsafePointer(to: &segment) {
                (pointer) throws(GuestMemoryError) -> (result: Result, bytesWritten: Int) in
                try body(UnsafeBufferPointer(start: pointer, count: 1))
            }
            if forWriting && written > 0 { e.markDirty(offset: offset, count: UInt64(min(written, count))) }
            return result
        }
        return try withHostSegmentsSlowPath(at: address, count: count, forWriting: forWriting, body)
    }

    /// ``withHostSegments(at:count:forWriting:_:)`` for a range that crosses regions, is empty
    /// or fails its check. Specialized for the results the package's own calls use, which skips
    /// the runtime's metadata lookups when called generically.
    @usableFromInline
    @_specialize(where Result == Void)
    @_specialize(where Result == Int)
    @_specialize(where Result == UInt64)
    func withHostSegmentsSlowPath<Result>(
        at address: GuestAddress, count: Int, forWriting: Bool,
        _ body: (UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) throws(GuestMemoryError) -> (
            result: Result, bytesWritten: Int
        )
    ) throws(GuestMemoryError) -> Result {
        let (first, n) = count == 0 ? (0, 0) : try resolve(address, count: count, forWriting: forWriting)
        return try withUnsafeTemporaryAllocation(of: UnsafeMutableRawBufferPointer.self, capacity: n) {
            (segments) throws(GuestMemoryError) -> Result in
            var k = 0
            forEachSegment(address, count: count, first: first, segments: n) { e, offset, length, _ in
                segments.initializeElement(
                    at: k, to: UnsafeMutableRawBufferPointer(start: e.host + Int(offset), count: length))
                k += 1
            }
            let (result, written) = try body(UnsafeBufferPointer(segments))
            if forWriting && written > 0 {
                forEachSegment(address, count: min(written, count), first: first, segments: n) { e, offset, length, _ in
                    e.markDirty(offset: offset, count: UInt64(length))
                }
            }
            return result
        }
    }

    // read and write are inlinable so the common case — the access lies in one region — costs
    // the caller one lookup and the copy, without a call; crossing and failing accesses take
    // the out-of-line path.

    /// Copies guest memory at `address` into `buffer`; see ``GuestMemoryAccess/read(into:at:)``.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        if let destination = buffer.baseAddress, let (e, offset) = singleRegion(address, count: buffer.count) {
            volatileCopy(to: destination, from: e.host + Int(offset), count: buffer.count)
            return
        }
        try readSlowPath(into: buffer, at: address)
    }

    /// Copies `bytes` into guest memory at `address`; see ``GuestMemoryAccess/write(_:at:)``.
    @inlinable
    public func write(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        if let source = bytes.baseAddress, let (e, offset) = singleRegion(address, count: bytes.count), !e.readOnly {
            volatileCopy(to: e.host + Int(offset), from: source, count: bytes.count)
            e.markDirty(offset: offset, count: UInt64(bytes.count))
            return
        }
        try writeSlowPath(bytes, at: address)
    }

    @usableFromInline
    func readSlowPath(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        guard let destination = buffer.baseAddress, buffer.count > 0 else { return }
        let (first, n) = try resolve(address, count: buffer.count, forWriting: false)
        forEachSegment(address, count: buffer.count, first: first, segments: n) { e, offset, length, done in
            volatileCopy(to: destination + done, from: e.host + Int(offset), count: length)
        }
    }

    @usableFromInline
    func writeSlowPath(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let (first, n) = try resolve(address, count: bytes.count, forWriting: true)
        forEachSegment(address, count: bytes.count, first: first, segments: n) { e, offset, length, done in
            volatileCopy(to: e.host + Int(offset), from: source + done, count: length)
            e.markDirty(offset: offset, count: UInt64(length))
        }
    }
}

/// Copies `count` bytes as one relaxed atomic access when `count` is 1, 2, 4 or 8 and both
/// pointers are naturally aligned; otherwise with `memcpy`.
@inlinable @inline(__always)
func volatileCopy(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    let aligned = (UInt(bitPattern: destination) | UInt(bitPattern: source)) & UInt(truncatingIfNeeded: count &- 1) == 0
    switch count {
    case 8 where aligned:
        destination.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(
                ordering: .relaxed),
            ordering: .relaxed)
    case 4 where aligned:
        destination.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(
                ordering: .relaxed),
            ordering: .relaxed)
    case 2 where aligned:
        destination.assumingMemoryBound(to: Atomic<UInt16>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt16>.self).pointee.load(
                ordering: .relaxed),
            ordering: .relaxed)
    case 1:
        destination.assumingMemoryBound(to: Atomic<UInt8>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt8>.self).pointee.load(
                ordering: .relaxed),
            ordering: .relaxed)
    default:
        memcpy(destination, source, count)
    }
}
