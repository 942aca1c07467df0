/// A guest physical address: a distinct 64-bit type so it cannot be mixed up with host
/// pointers, file offsets or lengths.
///
/// Arithmetic is checked: an offset that would carry past 2^64 (or borrow below 0) throws
/// ``GuestMemoryError/addressOverflow(_:offset:)`` instead of trapping, because guest-controlled
/// values reach these operations.
public struct GuestAddress: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as a plain 64-bit number.
    public var rawValue: UInt64

    /// Wraps a raw 64-bit guest physical address.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Wraps a raw 64-bit guest physical address.
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Guest address zero.
    public static let zero = GuestAddress(0)

    /// Orders addresses numerically.
    @inlinable public static func < (lhs: GuestAddress, rhs: GuestAddress) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `self + offset`, or `nil` when the sum does not fit in 64 bits.
    @inlinable public func advanced(by offset: UInt64) -> GuestAddress? {
        let (sum, overflow) = rawValue.addingReportingOverflow(offset)
        return overflow ? nil : GuestAddress(sum)
    }

    /// `self + offset`; throws when the sum does not fit in 64 bits.
    @inlinable public func adding(_ offset: UInt64) throws(GuestMemoryError) -> GuestAddress {
        guard let result = advanced(by: offset) else { throw .addressOverflow(self, offset: offset) }
        return result
    }

    /// `self - offset`; throws when the result would be below zero.
    @inlinable public func subtracting(_ offset: UInt64) throws(GuestMemoryError) -> GuestAddress {
        let (difference, overflow) = rawValue.subtractingReportingOverflow(offset)
        if overflow { throw .addressOverflow(self, offset: offset) }
        return GuestAddress(difference)
    }

    /// The distance `self - base` in bytes, or `nil` when `base` is above `self`.
    @inlinable public func offset(from base: GuestAddress) -> UInt64? {
        rawValue >= base.rawValue ? rawValue - base.rawValue : nil
    }

    /// Rounds down to a multiple of `alignment` (a power of two).
    @inlinable public func alignedDown(to alignment: UInt64) -> GuestAddress {
        GuestAddress(rawValue & ~(alignment &- 1))
    }

    /// Rounds up to a multiple of `alignment` (a power of two); throws on overflow.
    @inlinable public func alignedUp(to alignment: UInt64) throws(GuestMemoryError) -> GuestAddress {
        let mask = alignment &- 1
        let (sum, overflow) = rawValue.addingReportingOverflow(mask)
        if overflow { throw .addressOverflow(self, offset: mask) }
        return GuestAddress(sum & ~mask)
    }

    /// Whether the address is a multiple of `alignment` (a power of two).
    @inlinable public func isAligned(to alignment: UInt64) -> Bool {
        rawValue & (alignment &- 1) == 0
    }

    /// The address in hexadecimal, e.g. `0x1000`.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}
