import Foundation
import Testing

@testable import ResourceAllocator

@Suite struct AddressAllocatorTests {
    private func allocator(_ base: UInt64 = 0x1000, _ size: UInt64 = 0x10000) throws -> AddressAllocator {
        try AddressAllocator(base: base, size: size)
    }

    private func error(_ body: () throws -> Void) -> AddressAllocatorError? {
        do { try body(); return nil } catch { return error as? AddressAllocatorError }
    }

    /// Whether `error` is `DecodingError.dataCorrupted` at `path` (the coding keys' names) with
    /// exactly `description`.
    private static func isDataCorrupted(_ error: any Error, at path: [String], _ description: String) -> Bool {
        guard case .dataCorrupted(let context) = error as? DecodingError else { return false }
        return context.codingPath.map(\.stringValue) == path && context.debugDescription == description
    }

    @Test func policiesPlaceWhereDocumented() throws {
        var a = try allocator()
        #expect(try a.allocate(size: 0x100) == AddressRange(start: 0x1000, size: 0x100))
        #expect(try a.allocate(size: 0x100, policy: .lastFit) == AddressRange(start: 0x10F00, size: 0x100))
        #expect(
            try a.allocate(size: 0x10, alignment: 0x1000, policy: .lastFit) == AddressRange(start: 0x10000, size: 0x10))
        #expect(try a.allocate(size: 0x200, policy: .exact(0x4000)) == AddressRange(start: 0x4000, size: 0x200))
        // Holes now: [0x1100,0x4000) [0x4200,0x10000) [0x10010,0x10F00). Best fit takes the smallest.
        #expect(try a.allocate(size: 0x100, policy: .bestFit) == AddressRange(start: 0x10010, size: 0x100))
        #expect(try a.allocate(size: 0x100, alignment: 0x2000) == AddressRange(start: 0x2000, size: 0x100))
        let within = AddressRange(start: 0x8000, size: 0x1000)!
        #expect(
            try a.allocate(size: 0x100, policy: .lastFit, within: within) == AddressRange(start: 0x8F00, size: 0x100))
        #expect(
            try a.allocate(size: 0x100, policy: .bestFit, within: within) == AddressRange(start: 0x8000, size: 0x100))
    }

    @Test func alignmentBetweenTheTreeClasses() throws {
        // 8 KiB alignment is not one of the tree's classes, so the 4 KiB class bounds it.
        // Every 16 KiB block keeps the hole [c+0x1000, c+0x3001): 0x2001 bytes from a
        // 4 KiB boundary (looks long enough) but only 0x1001 bytes from the 8 KiB one.
        var a = try allocator(0, 0x100000)
        var tails: [UInt64: AddressRange] = [:]
        for c in stride(from: UInt64(0), to: 0x100000, by: 0x4000) {
            try a.allocate(size: 0x1000, policy: .exact(c))
            tails[c] = try a.allocate(size: 0xFFF, policy: .exact(c + 0x3001))
        }
        for policy in [AllocationPolicy.firstFit, .lastFit, .bestFit] {
            #expect(
                error { try a.allocate(size: 0x2000, alignment: 0x2000, policy: policy) }
                    == .outOfSpace(size: 0x2000, alignment: 0x2000))
        }
        // Open one block: [0x81000, 0x84000) now holds an 8 KiB-aligned 8 KiB range.
        try a.free(try #require(tails[0x80000]))
        for policy in [AllocationPolicy.firstFit, .lastFit, .bestFit] {
            let r = try a.allocate(size: 0x2000, alignment: 0x2000, policy: policy)
            #expect(r == AddressRange(start: 0x82000, size: 0x2000))
            try a.free(r)
        }
    }

    @Test func typedErrors() throws {
        var a = try allocator()
        #expect(error { try a.allocate(size: 0) } == .zeroSize)
        #expect(error { try a.allocate(size: 1, alignment: 0) } == .invalidAlignment(0))
        #expect(error { try a.allocate(size: 1, alignment: 3) } == .invalidAlignment(3))
        #expect(
            error { try a.allocate(size: 2, alignment: 2, policy: .exact(0x1001)) }
                == .misaligned(address: 0x1001, alignment: 2))
        #expect(error { try a.allocate(size: 0x10, policy: .exact(UInt64.max - 4)) } == .overflow)
        #expect(
            error { try a.allocate(size: 0x10, policy: .exact(0)) }
                == .outsideSpace(AddressRange(start: 0, size: 0x10)!))
        #expect(error { try a.allocate(size: 0x10001) } == .outOfSpace(size: 0x10001, alignment: 1))
        let r = try a.allocate(size: 0x100, policy: .exact(0x2000))
        #expect(
            error { try a.allocate(size: 0x10, policy: .exact(0x20F0)) }
                == .overlapsAllocation(AddressRange(start: 0x20F0, size: 0x10)!))
        #expect(
            error { try a.allocate(size: 0x200, policy: .exact(0x1F00)) }
                == .overlapsAllocation(AddressRange(start: 0x1F00, size: 0x200)!))
        let bad = AddressRange(start: 0x2000, size: 0x80)!
        #expect(error { try a.free(bad) } == .notAllocated(bad))
        try a.free(r)
        #expect(error { try a.free(r) } == .notAllocated(r))
        #expect(
            error { try a.allocate(size: 1, within: AddressRange(start: 0, size: 0x2000)!) }
                == .outsideSpace(AddressRange(start: 0, size: 0x2000)!))
        #expect(throws: AddressAllocatorError.zeroSize) { try AddressAllocator(base: 0, size: 0) }
        #expect(throws: AddressAllocatorError.overflow) { try AddressAllocator(base: UInt64.max, size: 2) }
    }

    @Test func freeMergesNeighboursInEveryOrder() throws {
        var a = try allocator(0, 0x400)
        let parts = try (0..<4).map { _ in try a.allocate(size: 0x100) }
        #expect(a.freeRanges.isEmpty)
        try a.free(parts[1])
        try a.free(parts[3])
        #expect(a.freeRanges == [AddressRange(start: 0x100, size: 0x100)!, AddressRange(start: 0x300, size: 0x100)!])
        try a.free(parts[2])  // merges both sides
        #expect(a.freeRanges == [AddressRange(start: 0x100, size: 0x300)!])
        try a.free(parts[0])  // merges right
        #expect(a.freeRanges == [a.space])
        #expect(a.freeRangeCount == 1)
    }

    @Test func wholeSpaceAndTopOfAddressSpace() throws {
        var a = try AddressAllocator(base: 0, size: UInt64.max)
        let top = try a.allocate(size: 0x1000, alignment: 0x1000, policy: .lastFit)
        #expect(top.end == UInt64.max & ~0xFFF)
        let all = try a.allocate(size: top.start)
        #expect(all.start == 0)
        try a.free(top)
        try a.free(all)
        #expect(a.freeRanges == [a.space])
    }

    @Test func codableRoundTripAndValidation() throws {
        var a = try allocator()
        for policy in [AllocationPolicy.firstFit, .lastFit, .bestFit, .exact(0x8000)] {
            try a.allocate(size: 0x300, alignment: 0x100, policy: policy)
        }
        let data = try JSONEncoder().encode(a)
        var b = try JSONDecoder().decode(AddressAllocator.self, from: data)
        #expect(b.allocatedRanges == a.allocatedRanges)
        #expect(b.freeRanges == a.freeRanges)
        #expect(try b.allocate(size: 0x10) == a.allocate(size: 0x10))

        let overlapping =
            #"{"space":{"start":0,"size":4096},"allocations":[{"start":0,"size":16},{"start":8,"size":16}]}"#
        #expect {
            try JSONDecoder().decode(AddressAllocator.self, from: Data(overlapping.utf8))
        } throws: { error in
            Self.isDataCorrupted(
                error, at: ["allocations"],
                "invalid saved allocator: \(AddressAllocatorError.overlapsAllocation(AddressRange(start: 8, size: 16)!))"
            )
        }
        let outside = #"{"space":{"start":0,"size":4096},"allocations":[{"start":4090,"size":16}]}"#
        #expect {
            try JSONDecoder().decode(AddressAllocator.self, from: Data(outside.utf8))
        } throws: { error in
            Self.isDataCorrupted(
                error, at: ["allocations"],
                "invalid saved allocator: \(AddressAllocatorError.outsideSpace(AddressRange(start: 4090, size: 16)!))")
        }
        let overflow = #"{"space":{"start":18446744073709551615,"size":16},"allocations":[]}"#
        #expect {
            try JSONDecoder().decode(AddressAllocator.self, from: Data(overflow.utf8))
        } throws: { error in
            Self.isDataCorrupted(error, at: ["space", "size"], "start + size overflows 64 bits")
        }
    }
}
