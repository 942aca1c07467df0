import GuestMemory
import TestSupport
import Testing

/// ``AtomicGuestMemory``'s own value accessors (a fast path inlined into the caller) read the
/// same values, write the same bytes and throw the same errors as the protocol's accessors on
/// the map, for every size and alignment, inside a region, across two, in a read-only region,
/// in a gap and past the end.
@Suite struct AtomicValueAccessorTests {
    /// Sixteen bytes (no 1-, 2-, 4- or 8-byte single access).
    struct Wide: Equatable { var low: UInt64, high: UInt64 }

    /// What `body` returned or threw.
    static func outcome<T: Equatable>(_ body: () throws -> T) -> Result<T, GuestMemoryError> {
        do { return .success(try body()) } catch { return .failure(error as! GuestMemoryError) }
    }

    /// Whether `body` succeeded, or what it threw.
    static func success(_ body: () throws -> Void) -> Result<Bool, GuestMemoryError> {
        outcome { () throws -> Bool in
            try body()
            return true
        }
    }

    @Test func valuesAndErrorsMatchTheMap() throws {
        // rw [0x0, 0x2000) and ro [0x2000, 0x3000) adjacent, a gap, rw [0x10000, 0x11000).
        let map = try GuestMemoryMap(regions: [
            try makeRegion(0, pages: 2), try makeRegion(0x2000, pages: 1, .init(readOnly: true)),
            try makeRegion(0x10000, pages: 1),
        ])
        var rng = SeededGenerator(seed: 0x5eed)
        try map.write(contentsOf: randomBytes(2 * Int(page), using: &rng), at: .zero)
        try map.write(contentsOf: randomBytes(Int(page), using: &rng), at: GuestAddress(0x10000))
        let memory = AtomicGuestMemory(map)

        var addresses: [UInt64] = []
        for edge: UInt64 in [0, 0x1000, 0x2000, 0x3000, 0x10000, 0x11000] {
            for delta in -17...17 where Int64(edge) + Int64(delta) >= 0 {
                addresses.append(UInt64(Int64(edge) + Int64(delta)))
            }
        }
        addresses.append(UInt64.max - 3)
        for raw in addresses {
            let address = GuestAddress(raw)
            for endianness in [Endianness.little, .big] {
                #expect(
                    Self.outcome { try memory.read(UInt8.self, at: address, endianness: endianness) }
                        == Self.outcome { try map.read(UInt8.self, at: address, endianness: endianness) })
                #expect(
                    Self.outcome { try memory.read(UInt16.self, at: address, endianness: endianness) }
                        == Self.outcome { try map.read(UInt16.self, at: address, endianness: endianness) })
                #expect(
                    Self.outcome { try memory.read(UInt32.self, at: address, endianness: endianness) }
                        == Self.outcome { try map.read(UInt32.self, at: address, endianness: endianness) })
                #expect(
                    Self.outcome { try memory.read(UInt64.self, at: address, endianness: endianness) }
                        == Self.outcome { try map.read(UInt64.self, at: address, endianness: endianness) })
            }
            #expect(
                Self.outcome { try memory.readValue(Wide.self, at: address) }
                    == Self.outcome { try map.readValue(Wide.self, at: address) })

            // Each write through the memory, then the same bytes through the map: both succeed or
            // fail alike, and on success the bytes are there.
            let value = UInt64.random(in: .min ... .max, using: &rng)
            let wrote32 = Self.success {
                try memory.write(UInt32(truncatingIfNeeded: value), at: address, endianness: .big)
            }
            #expect(
                wrote32
                    == Self.success { try map.write(UInt32(truncatingIfNeeded: value), at: address, endianness: .big) }
            )
            if case .success = wrote32 {
                #expect(try map.read(UInt32.self, at: address, endianness: .big) == UInt32(truncatingIfNeeded: value))
            }
            let wide = Wide(low: value, high: ~value)
            let wroteWide = Self.success { try memory.writeValue(wide, at: address) }
            #expect(
                wroteWide == Self.success { try map.writeValue(wide, at: address) })
            if case .success = wroteWide { #expect(try map.readValue(Wide.self, at: address) == wide) }
            let wrote64 = Self.success { try memory.write(value, at: address) }
            #expect(wrote64 == Self.success { try map.write(value, at: address) })
            if case .success = wrote64 { #expect(try map.read(UInt64.self, at: address) == value) }
        }
    }
}
