import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension GuestMemoryMap: GuestMemoryAccess {
    /// Checks that `count` (> 0) bytes at `address` are mapped (and writable if `forWriting`)
    /// and returns the index of the first region and the number of regions the range crosses.
    @usableFromInline
    func resolve(_ address: GuestAddress, count: Int, forWriting: Bool) throws(GuestMemoryError) -> (first: Int, segments: Int) {
        guard count >= 0, let range = try? GuestAddressRange(start: address, count: UInt64(count)) else {
            throw .addressOverflow(address, offset: UInt64(max(count, 0)))
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

    public func withHostSegments<Result>(
        at address: GuestAddress, count: Int, forWriting: Bool,
        _ body: (UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) throws(GuestMemoryError) -> (result: Result, bytesWritten: Int)
    ) throws(GuestMemoryError) -> Result {
        if count == 0 {
            return try withUnsafeTemporaryAllocation(of: UnsafeMutableRawBufferPointer.self, capacity: 0) {
                (segments) throws(GuestMemoryError) -> Result in
                try body(UnsafeBufferPointer(segments)).result
            }
        }
        let (first, n) = try resolve(address, count: count, forWriting: forWriting)
        return try withExtendedLifetime(self) { () throws(GuestMemoryError) -> Result in
            try withUnsafeTemporaryAllocation(of: UnsafeMutableRawBufferPointer.self, capacity: n) {
                (segments) throws(GuestMemoryError) -> Result in
                var cursor = address.rawValue
                var remaining = UInt64(count)
                for k in 0..<n {
                    let e = table[first + k]
                    let offset = cursor - e.base
                    let length = min(remaining, e.size - offset)
                    segments.initializeElement(
                        at: k, to: UnsafeMutableRawBufferPointer(start: e.host + Int(offset), count: Int(length)))
                    cursor &+= length
                    remaining -= length
                }
                let (result, written) = try body(UnsafeBufferPointer(segments))
                if forWriting && written > 0 { markDirty(address, count: min(written, count), first: first) }
                return result
            }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        guard let destination = buffer.baseAddress, buffer.count > 0 else { return }
        let (first, n) = try resolve(address, count: buffer.count, forWriting: false)
        withExtendedLifetime(self) {
            var cursor = address.rawValue
            var done = 0
            for k in 0..<n {
                let e = table[first + k]
                let offset = cursor - e.base
                let length = min(buffer.count - done, Int(e.size - offset))
                volatileCopy(to: destination + done, from: e.host + Int(offset), count: length)
                done += length
                cursor &+= UInt64(length)
            }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let (first, n) = try resolve(address, count: bytes.count, forWriting: true)
        withExtendedLifetime(self) {
            var cursor = address.rawValue
            var done = 0
            for k in 0..<n {
                let e = table[first + k]
                let offset = cursor - e.base
                let length = min(bytes.count - done, Int(e.size - offset))
                volatileCopy(to: e.host + Int(offset), from: source + done, count: length)
                e.bitmap?.mark(offset: offset, count: UInt64(length))
                done += length
                cursor &+= UInt64(length)
            }
        }
    }

    /// Marks `count` bytes starting at `address` (in regions from `first` on) dirty.
    func markDirty(_ address: GuestAddress, count: Int, first: Int) {
        var cursor = address.rawValue
        var remaining = UInt64(count)
        var i = first
        while remaining > 0, i < regionCount {
            let e = table[i]
            let offset = cursor - e.base
            let length = min(remaining, e.size - offset)
            e.bitmap?.mark(offset: offset, count: length)
            remaining -= length
            cursor &+= length
            i += 1
        }
    }
}

/// Copies `count` bytes as one relaxed atomic access when `count` is 1, 2, 4 or 8 and both
/// pointers are naturally aligned; otherwise with `memcpy`.
@inline(__always)
func volatileCopy(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    let aligned = (UInt(bitPattern: destination) | UInt(bitPattern: source)) & UInt(truncatingIfNeeded: count &- 1) == 0
    switch count {
    case 8 where aligned:
        destination.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .relaxed),
            ordering: .relaxed)
    case 4 where aligned:
        destination.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .relaxed),
            ordering: .relaxed)
    case 2 where aligned:
        destination.assumingMemoryBound(to: Atomic<UInt16>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt16>.self).pointee.load(ordering: .relaxed),
            ordering: .relaxed)
    case 1:
        destination.assumingMemoryBound(to: Atomic<UInt8>.self).pointee.store(
            UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: Atomic<UInt8>.self).pointee.load(ordering: .relaxed),
            ordering: .relaxed)
    default:
        memcpy(destination, source, count)
    }
}
