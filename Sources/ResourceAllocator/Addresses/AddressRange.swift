/// A half-open range of addresses `[start, start + size)`.
///
/// The end is exclusive, so a range can describe any span whose last byte is below
/// `UInt64.max`; the byte at `UInt64.max` itself cannot be managed.
public struct AddressRange: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The first address in the range.
    public let start: UInt64
    /// The number of addresses in the range (never zero for ranges the allocator returns).
    public let size: UInt64

    /// Creates a range, or returns `nil` when `start + size` does not fit in 64 bits.
    public init?(start: UInt64, size: UInt64) {
        guard start.addingReportingOverflow(size).overflow == false else { return nil }
        self.start = start
        self.size = size
    }

    /// Creates a range from trusted values the caller has already checked.
    init(uncheckedStart start: UInt64, end: UInt64) {
        self.start = start
        self.size = end &- start
    }

    /// The first address after the range.
    public var end: UInt64 { start &+ size }

    /// The last address in the range (`end - 1`); meaningless for an empty range.
    public var last: UInt64 { end &- 1 }

    /// Whether `address` lies in the range.
    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// Whether the two ranges share at least one address.
    public func overlaps(_ other: AddressRange) -> Bool {
        start < other.end && other.start < end && size > 0 && other.size > 0
    }

    /// `[0xSTART, 0xEND)` in hexadecimal.
    public var description: String {
        "[0x\(String(start, radix: 16)), 0x\(String(end, radix: 16)))"
    }

    // Codable with validation: a decoded range must not overflow.
    private enum CodingKeys: String, CodingKey { case start, size }

    /// Decodes `start` and `size`, rejecting with a `DecodingError` a range whose end does not fit
    /// in 64 bits.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let start = try c.decode(UInt64.self, forKey: .start)
        let size = try c.decode(UInt64.self, forKey: .size)
        guard let range = AddressRange(start: start, size: size) else {
            throw DecodingError.dataCorruptedError(
                forKey: .size, in: c, debugDescription: "start + size overflows 64 bits")
        }
        self = range
    }
}
