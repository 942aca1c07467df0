extension AddressAllocator: Codable {
    private enum CodingKeys: String, CodingKey { case space, allocations }

    /// Encodes the space and the live allocations in address order; free ranges follow
    /// from them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(space, forKey: .space)
        try c.encode(allocatedRanges, forKey: .allocations)
    }

    /// Rebuilds an allocator by replaying the saved allocations as exact requests, so
    /// overlapping, empty or out-of-space entries in untrusted input are rejected with a
    /// `DecodingError` rather than trusted.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let space = try c.decode(AddressRange.self, forKey: .space)
        let allocations = try c.decode([AddressRange].self, forKey: .allocations)
        do {
            var allocator = try AddressAllocator(space: space)
            for range in allocations {
                try allocator.allocate(size: range.size, policy: .exact(range.start))
            }
            self = allocator
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .allocations, in: c, debugDescription: "invalid saved allocator: \(error)")
        }
    }
}
