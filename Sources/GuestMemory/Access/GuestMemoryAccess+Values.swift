/// Byte order of an integer in guest memory.
public enum Endianness: Sendable {
    /// Least significant byte first (x86, and most virtio fields).
    case little
    /// Most significant byte first (network order, VHD, …).
    case big
}

extension GuestMemoryAccess {
    /// Reads a `T` stored in `endianness` byte order at `address`.
    ///
    /// A naturally aligned integer of 1, 2, 4 or 8 bytes is read with a single load.
    @inlinable
    public func read<T: FixedWidthInteger & BitwiseCopyable>(
        _ type: T.Type = T.self, at address: GuestAddress, endianness: Endianness = .little
    )
        throws(GuestMemoryError) -> T
    {
        let raw: T = try readValue(T.self, at: address)
        return endianness == .little ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    /// Writes `value` in `endianness` byte order at `address`.
    ///
    /// A naturally aligned integer of 1, 2, 4 or 8 bytes is written with a single store.
    @inlinable
    public func write<T: FixedWidthInteger & BitwiseCopyable>(
        _ value: T, at address: GuestAddress, endianness: Endianness = .little
    )
        throws(GuestMemoryError)
    {
        try writeValue(endianness == .little ? value.littleEndian : value.bigEndian, at: address)
    }

    /// Reads the bytes of a trivially copyable `T` at `address` (host byte order and layout).
    ///
    /// `T` must be valid for every bit pattern the guest could store (plain integers and
    /// structs of them); the bytes come from the guest.
    @inlinable
    public func readValue<T: BitwiseCopyable>(_ type: T.Type = T.self, at address: GuestAddress)
        throws(GuestMemoryError) -> T
    {
        // Up to 16 bytes (integers, virtqueue descriptors) through a stack buffer of a concrete
        // type. Called through `any GuestMemoryAccess` this body runs unspecialized, where a
        // generic temporary allocation's typed-throws machinery costs runtime metadata lookups
        // on every call — more than the read itself —, so larger types take a separate function.
        if MemoryLayout<T>.size <= 16 {
            var storage: (UInt64, UInt64) = (0, 0)
            return try withUnsafeMutableBytes(of: &storage) { (bytes) throws(GuestMemoryError) -> T in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[..<MemoryLayout<T>.size]), at: address)
                return bytes.loadUnaligned(as: T.self)
            }
        }
        return try readLargeValue(T.self, at: address)
    }

    /// ``readValue(_:at:)`` for a `T` larger than 16 bytes.
    @usableFromInline
    func readLargeValue<T: BitwiseCopyable>(_ type: T.Type, at address: GuestAddress) throws(GuestMemoryError) -> T {
        try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { (buffer) throws(GuestMemoryError) -> T in
            try read(into: UnsafeMutableRawBufferPointer(buffer), at: address)
            return UnsafeRawPointer(buffer.baseAddress.unsafelyUnwrapped).load(as: T.self)
        }
    }

    /// Writes the bytes of a trivially copyable `value` at `address` (host byte order and layout).
    @inlinable
    public func writeValue<T: BitwiseCopyable>(_ value: T, at address: GuestAddress) throws(GuestMemoryError) {
        var copy = value
        try withUnsafeBytes(of: &copy) { (bytes) throws(GuestMemoryError) in try write(bytes, at: address) }
    }

    /// Reads `count` bytes at `address` into a new array.
    ///
    /// The range is checked against the map before the array is allocated, so a guest-chosen
    /// `count` cannot cause an allocation larger than mapped guest memory.
    public func readBytes(count: Int, at address: GuestAddress) throws(GuestMemoryError) -> [UInt8] {
        try withHostSegments(at: address, count: count, forWriting: false) { (segments) throws(GuestMemoryError) in
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                var done = 0
                for segment in segments {
                    volatileCopy(
                        to: buffer.baseAddress.unsafelyUnwrapped + done,
                        from: UnsafeRawPointer(segment.baseAddress.unsafelyUnwrapped), count: segment.count)
                    done += segment.count
                }
                initialized = done
            }
            return (bytes, 0)
        }
    }

    /// Fills `bytes` (all of it) with guest memory at `address`.
    public func read(into bytes: inout [UInt8], at address: GuestAddress) throws(GuestMemoryError) {
        var failure: GuestMemoryError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(GuestMemoryError) { try read(into: buffer, at: address) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes the bytes of `bytes` at `address` (a contiguous collection such as `[UInt8]`,
    /// `ArraySlice<UInt8>` or `Data`).
    public func write<C: Collection<UInt8>>(contentsOf bytes: C, at address: GuestAddress) throws(GuestMemoryError) {
        var failure: GuestMemoryError?
        func copy(_ buffer: UnsafeRawBufferPointer) {
            do { try write(buffer, at: address) } catch { failure = error }
        }
        if bytes.withContiguousStorageIfAvailable({ copy(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { copy($0) }
        }
        if let failure { throw failure }
    }

    /// Fills `count` bytes at `address` with `byte`.
    public func fill(_ byte: UInt8, count: Int, at address: GuestAddress) throws(GuestMemoryError) {
        try withHostSegments(at: address, count: count, forWriting: true) { (segments) throws(GuestMemoryError) in
            for segment in segments { segment.initializeMemory(as: UInt8.self, repeating: byte) }
            return ((), count)
        }
    }
}
