import Synchronization

// The value accessors of GuestMemoryAccess, again for AtomicGuestMemory: the protocol's own go
// through a temporary buffer and a closure, which the optimiser leaves out of line once the read
// section is added to the access, so a caller that holds an AtomicGuestMemory would pay a call
// per value. These give a naturally aligned 1-, 2-, 4- or 8-byte value in one region a fast path
// inlined into the caller, and leave everything else to read(into:at:) and write(_:at:) — same
// results, same errors, same single-load / single-store guarantee.

extension AtomicGuestMemory {
    /// Reads a `T` stored in `endianness` byte order at `address`; see
    /// ``GuestMemoryAccess/read(_:at:endianness:)``.
    @inlinable @inline(__always)
    public func read<T: FixedWidthInteger & BitwiseCopyable>(
        _ type: T.Type = T.self, at address: GuestAddress, endianness: Endianness = .little
    ) throws(GuestMemoryError) -> T {
        let raw: T = try readValue(T.self, at: address)
        return endianness == .little ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    /// Writes `value` in `endianness` byte order at `address`; see
    /// ``GuestMemoryAccess/write(_:at:endianness:)``.
    @inlinable @inline(__always)
    public func write<T: FixedWidthInteger & BitwiseCopyable>(
        _ value: T, at address: GuestAddress, endianness: Endianness = .little
    ) throws(GuestMemoryError) {
        try writeValue(endianness == .little ? value.littleEndian : value.bigEndian, at: address)
    }

    /// Reads the bytes of a trivially copyable `T` at `address`; see
    /// ``GuestMemoryAccess/readValue(_:at:)``.
    @inlinable @inline(__always)
    public func readValue<T: BitwiseCopyable>(_ type: T.Type = T.self, at address: GuestAddress)
        throws(GuestMemoryError) -> T
    {
        if let record = readers.beginAccess() {
            let value = current.load(ordering: .sequentiallyConsistent)._withUnsafeGuaranteedRef { (map) -> T? in
                guard let (e, offset) = map.singleRegion(address, count: MemoryLayout<T>.size) else { return nil }
                return singleLoad(T.self, from: e.host + Int(offset))
            }
            if _fastPath(readers.endAccess(record)), let value { return value }
        }
        // Also when retired maps are waiting: the value is read again after their release (a read
        // has no effect to repeat, and a single call site keeps the fast path small).
        return try readValueSlowPath(T.self, at: address)
    }

    /// Writes the bytes of a trivially copyable `value` at `address`; see
    /// ``GuestMemoryAccess/writeValue(_:at:)``.
    @inlinable @inline(__always)
    public func writeValue<T: BitwiseCopyable>(_ value: T, at address: GuestAddress) throws(GuestMemoryError) {
        var done = false
        if let record = readers.beginAccess() {
            done = current.load(ordering: .sequentiallyConsistent)._withUnsafeGuaranteedRef { map in
                guard let (e, offset) = map.singleRegion(address, count: MemoryLayout<T>.size), !e.readOnly,
                    singleStore(value, to: e.host + Int(offset))
                else { return false }
                e.markDirty(offset: offset, count: UInt64(MemoryLayout<T>.size))
                return true
            }
            if _fastPath(readers.endAccess(record) && done) { return }
        }
        try writeValueSlowPath(value, at: address, done: done)
    }

    /// The rest of ``readValue(_:at:)``: releases retired maps if some are waiting, and reads.
    @usableFromInline
    func readValueSlowPath<T: BitwiseCopyable>(_ type: T.Type, at address: GuestAddress) throws(GuestMemoryError) -> T {
        try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { (buffer) throws(GuestMemoryError) -> T in
            try readSlowPath(into: UnsafeMutableRawBufferPointer(buffer), at: address, done: false)
            return UnsafeRawPointer(buffer.baseAddress.unsafelyUnwrapped).load(as: T.self)
        }
    }

    /// The rest of ``writeValue(_:at:)``: releases retired maps if the fast path's access found
    /// some waiting, then writes unless the fast path did (a value is written once).
    @usableFromInline
    func writeValueSlowPath<T: BitwiseCopyable>(_ value: T, at address: GuestAddress, done: Bool)
        throws(GuestMemoryError)
    {
        if readers.pending.load(ordering: .sequentiallyConsistent) != 0 { readers.reclaim() }
        if done { return }
        var copy = value
        try withUnsafeBytes(of: &copy) { (bytes) throws(GuestMemoryError) in
            try writeSlowPath(bytes, at: address, done: false)
        }
    }
}

/// A `T` of 1, 2, 4 or 8 bytes at a naturally aligned `source`, loaded as one relaxed atomic
/// load (as ``volatileCopy(to:from:count:)`` would copy it); `nil` for any other size or an
/// unaligned `source`.
@inlinable @inline(__always)
func singleLoad<T: BitwiseCopyable>(_ type: T.Type, from source: UnsafeMutableRawPointer) -> T? {
    let size = MemoryLayout<T>.size
    guard size & (size &- 1) == 0, size <= 8, UInt(bitPattern: source) & UInt(truncatingIfNeeded: size &- 1) == 0
    else { return nil }
    switch size {
    case 8:
        return unsafeBitCast(
            source.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .relaxed), to: T.self)
    case 4:
        return unsafeBitCast(
            source.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .relaxed), to: T.self)
    case 2:
        return unsafeBitCast(
            source.assumingMemoryBound(to: Atomic<UInt16>.self).pointee.load(ordering: .relaxed), to: T.self)
    case 1:
        return unsafeBitCast(
            source.assumingMemoryBound(to: Atomic<UInt8>.self).pointee.load(ordering: .relaxed), to: T.self)
    default: return nil
    }
}

/// Stores `value` of 1, 2, 4 or 8 bytes at a naturally aligned `destination` as one relaxed
/// atomic store and returns `true`; returns `false` (storing nothing) otherwise.
@inlinable @inline(__always)
func singleStore<T: BitwiseCopyable>(_ value: T, to destination: UnsafeMutableRawPointer) -> Bool {
    let size = MemoryLayout<T>.size
    guard size & (size &- 1) == 0, size <= 8,
        UInt(bitPattern: destination) & UInt(truncatingIfNeeded: size &- 1) == 0
    else { return false }
    switch size {
    case 8:
        destination.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.store(
            unsafeBitCast(value, to: UInt64.self), ordering: .relaxed)
    case 4:
        destination.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(
            unsafeBitCast(value, to: UInt32.self), ordering: .relaxed)
    case 2:
        destination.assumingMemoryBound(to: Atomic<UInt16>.self).pointee.store(
            unsafeBitCast(value, to: UInt16.self), ordering: .relaxed)
    case 1:
        destination.assumingMemoryBound(to: Atomic<UInt8>.self).pointee.store(
            unsafeBitCast(value, to: UInt8.self), ordering: .relaxed)
    default: return false
    }
    return true
}
