/// A range of guest physical addresses given by its first address and its length.
///
/// A range may end exactly at 2^64 (its ``last`` address is `UInt64.max`); a range that would
/// extend past 2^64 cannot be constructed. Zero-length ranges are allowed; they contain no
/// address and overlap nothing.
public struct GuestAddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the range.
    public let start: GuestAddress
    /// The number of bytes in the range.
    public let count: UInt64

    /// A range of `count` bytes starting at `start`; throws when it would extend past 2^64.
    @inlinable public init(start: GuestAddress, count: UInt64) throws(GuestMemoryError) {
        if count > 0, start.rawValue > UInt64.max - (count - 1) {
            throw .addressOverflow(start, offset: count)
        }
        self.start = start
        self.count = count
    }

    /// Whether the range has no bytes.
    @inlinable public var isEmpty: Bool { count == 0 }

    /// The last address inside the range (inclusive), or `nil` for an empty range.
    @inlinable public var last: GuestAddress? {
        count == 0 ? nil : GuestAddress(start.rawValue + (count - 1))
    }

    /// The first address after the range, or `nil` when the range ends exactly at 2^64.
    @inlinable public var end: GuestAddress? { start.advanced(by: count) }

    /// Whether `address` lies inside the range.
    @inlinable public func contains(_ address: GuestAddress) -> Bool {
        address >= start && address.rawValue - start.rawValue < count
    }

    /// Whether `other` lies entirely inside the range (an empty `other` is contained when its
    /// start is inside or at the end of this range).
    @inlinable public func contains(_ other: GuestAddressRange) -> Bool {
        guard let offset = other.start.offset(from: start), offset <= count else { return false }
        return other.count <= count - offset
    }

    /// Whether the two ranges share at least one address.
    @inlinable public func overlaps(_ other: GuestAddressRange) -> Bool {
        guard let a = last, let b = other.last else { return false }
        return start <= b && other.start <= a
    }

    /// `[start, last]` in hexadecimal.
    public var description: String {
        guard let last else { return "[\(start), empty)" }
        return "[\(start), \(last)]"
    }
}
