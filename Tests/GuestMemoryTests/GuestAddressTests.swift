import GuestMemory
import Testing

@Suite struct GuestAddressTests {
    @Test func checkedArithmetic() throws {
        let a = GuestAddress(0x1000)
        #expect(try a.adding(0x10) == GuestAddress(0x1010))
        #expect(try a.subtracting(0x1000) == .zero)
        #expect(throws: GuestMemoryError.addressOverflow(GuestAddress(.max), offset: 1)) {
            try GuestAddress(.max).adding(1)
        }
        #expect(throws: GuestMemoryError.addressOverflow(a, offset: 0x1001)) { try a.subtracting(0x1001) }
        #expect(GuestAddress(.max - 1).advanced(by: 2) == nil)
        #expect(a.offset(from: GuestAddress(0x800)) == 0x800)
        #expect(a.offset(from: GuestAddress(0x1001)) == nil)
        #expect(GuestAddress(0x1234).alignedDown(to: 0x1000) == a)
        #expect(try GuestAddress(0x1234).alignedUp(to: 0x1000) == GuestAddress(0x2000))
        #expect(throws: GuestMemoryError.addressOverflow(GuestAddress(.max), offset: 0xfff)) {
            try GuestAddress(.max).alignedUp(to: 0x1000)
        }
        #expect(a.description == "0x1000")
    }

    @Test func rangesUpToTheTopOfTheAddressSpace() throws {
        let top = try GuestAddressRange(start: GuestAddress(.max - 0xfff), count: 0x1000)
        #expect(top.last == GuestAddress(.max))
        #expect(top.end == nil)
        #expect(top.contains(GuestAddress(.max)))
        #expect(throws: GuestMemoryError.addressOverflow(GuestAddress(.max - 0xfff), offset: 0x1001)) {
            try GuestAddressRange(start: GuestAddress(.max - 0xfff), count: 0x1001)
        }
        let empty = try GuestAddressRange(start: GuestAddress(.max), count: 0)
        #expect(empty.isEmpty && empty.last == nil && !empty.overlaps(top))
        #expect(top.contains(empty))
    }

    @Test func overlapAndContainment() throws {
        let a = try GuestAddressRange(start: GuestAddress(0x1000), count: 0x1000)
        let b = try GuestAddressRange(start: GuestAddress(0x2000), count: 0x1000)
        let c = try GuestAddressRange(start: GuestAddress(0x1fff), count: 2)
        #expect(!a.overlaps(b) && a.overlaps(c) && b.overlaps(c))
        #expect(a.contains(try GuestAddressRange(start: GuestAddress(0x1800), count: 0x800)))
        #expect(!a.contains(try GuestAddressRange(start: GuestAddress(0x1800), count: 0x801)))
        #expect(!a.contains(GuestAddress(0x2000)) && a.contains(GuestAddress(0x1fff)))
    }
}
