import Synchronization

/// One atomic read-modify-write on guest memory, on the integer's bits widened to 64.
@usableFromInline enum GuestAtomicOperation {
    case load
    case store(UInt64)
    case compareExchange(expected: UInt64, desired: UInt64)
    case wrappingAdd(UInt64)

    @usableFromInline var writes: Bool {
        if case .load = self { return false }
        return true
    }

    /// Applies the operation to `pointer` and returns (original value, whether memory changed).
    @inlinable @inline(__always)
    func apply<W: FixedWidthInteger>(
        _ pointer: UnsafeMutablePointer<Atomic<W>>, _ load: (borrowing Atomic<W>) -> W,
        _ cas: (borrowing Atomic<W>, W, W) -> (exchanged: Bool, original: W)
    ) -> (UInt64, Bool) {
        switch self {
        case .load:
            return (UInt64(truncatingIfNeeded: load(pointer.pointee)), false)
        case .store(let v):
            var current = load(pointer.pointee)
            while true {
                let r = cas(pointer.pointee, current, W(truncatingIfNeeded: v))
                if r.exchanged { return (UInt64(truncatingIfNeeded: current), true) }
                current = r.original
            }
        case .compareExchange(let expected, let desired):
            let r = cas(pointer.pointee, W(truncatingIfNeeded: expected), W(truncatingIfNeeded: desired))
            return (UInt64(truncatingIfNeeded: r.original), r.exchanged)
        case .wrappingAdd(let v):
            var current = load(pointer.pointee)
            while true {
                let r = cas(pointer.pointee, current, current &+ W(truncatingIfNeeded: v))
                if r.exchanged { return (UInt64(truncatingIfNeeded: current), true) }
                current = r.original
            }
        }
    }
}

extension GuestMemoryAccess {
    /// Performs `operation` (sequentially consistent) on the naturally aligned `size`-byte
    /// integer at `address`; returns the value found before the operation.
    // Inlinable so that a caller with a concrete memory type calls that type's
    // withHostSegments directly (specialized for UInt64), not through the generic entry point,
    // whose runtime metadata lookups cost more than the atomic itself.
    @inlinable
    func atomicOperation(_ operation: GuestAtomicOperation, size: Int, at address: GuestAddress)
        throws(GuestMemoryError) -> UInt64
    {
        guard size == 1 || size == 2 || size == 4 || size == 8 else { throw .misaligned(address, alignment: size) }
        guard address.isAligned(to: UInt64(size)) else { throw .misaligned(address, alignment: size) }
        return try withHostSegments(at: address, count: size, forWriting: operation.writes) {
            (segments) throws(GuestMemoryError) -> (result: UInt64, bytesWritten: Int) in
            guard segments.count == 1, let p = segments[0].baseAddress, UInt(bitPattern: p) % UInt(size) == 0 else {
                throw .misaligned(address, alignment: size)
            }
            let (original, changed): (UInt64, Bool)
            switch size {
            case 1:
                (original, changed) = operation.apply(
                    p.assumingMemoryBound(to: Atomic<UInt8>.self), { $0.load(ordering: .sequentiallyConsistent) },
                    { $0.compareExchange(expected: $1, desired: $2, ordering: .sequentiallyConsistent) })
            case 2:
                (original, changed) = operation.apply(
                    p.assumingMemoryBound(to: Atomic<UInt16>.self), { $0.load(ordering: .sequentiallyConsistent) },
                    { $0.compareExchange(expected: $1, desired: $2, ordering: .sequentiallyConsistent) })
            case 4:
                (original, changed) = operation.apply(
                    p.assumingMemoryBound(to: Atomic<UInt32>.self), { $0.load(ordering: .sequentiallyConsistent) },
                    { $0.compareExchange(expected: $1, desired: $2, ordering: .sequentiallyConsistent) })
            default:
                (original, changed) = operation.apply(
                    p.assumingMemoryBound(to: Atomic<UInt64>.self), { $0.load(ordering: .sequentiallyConsistent) },
                    { $0.compareExchange(expected: $1, desired: $2, ordering: .sequentiallyConsistent) })
            }
            return (original, changed ? size : 0)
        }
    }

    /// Atomically loads the naturally aligned integer at `address` (host byte order,
    /// sequentially consistent).
    ///
    /// - Throws: ``GuestMemoryError/misaligned(_:alignment:)`` when `address` is not a multiple
    ///   of `T`'s size or `T` is not 1, 2, 4 or 8 bytes; the usual range errors otherwise.
    @inlinable
    public func atomicLoad<T: FixedWidthInteger>(_ type: T.Type = T.self, at address: GuestAddress)
        throws(GuestMemoryError) -> T
    {
        T(truncatingIfNeeded: try atomicOperation(.load, size: MemoryLayout<T>.size, at: address))
    }

    /// Atomically stores `value` to the naturally aligned integer at `address` (host byte
    /// order, sequentially consistent).
    @inlinable
    public func atomicStore<T: FixedWidthInteger>(_ value: T, at address: GuestAddress) throws(GuestMemoryError) {
        _ = try atomicOperation(.store(UInt64(truncatingIfNeeded: value)), size: MemoryLayout<T>.size, at: address)
    }

    /// Atomically replaces the naturally aligned integer at `address` with `desired` if it
    /// equals `expected`; returns whether it did and the value found.
    @inlinable
    public func compareExchange<T: FixedWidthInteger>(expected: T, desired: T, at address: GuestAddress)
        throws(GuestMemoryError) -> (exchanged: Bool, original: T)
    {
        let original = T(
            truncatingIfNeeded: try atomicOperation(
                .compareExchange(
                    expected: UInt64(truncatingIfNeeded: expected), desired: UInt64(truncatingIfNeeded: desired)),
                size: MemoryLayout<T>.size, at: address))
        return (original == expected, original)
    }

    /// Atomically adds `operand` (wrapping) to the naturally aligned integer at `address`;
    /// returns the previous value.
    @inlinable
    public func atomicWrappingAdd<T: FixedWidthInteger>(_ operand: T, at address: GuestAddress) throws(GuestMemoryError)
        -> T
    {
        T(
            truncatingIfNeeded: try atomicOperation(
                .wrappingAdd(UInt64(truncatingIfNeeded: operand)), size: MemoryLayout<T>.size, at: address))
    }
}
