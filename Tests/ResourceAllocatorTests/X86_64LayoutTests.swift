import Foundation
import Testing

@testable import ResourceAllocator

@Suite struct X86_64LayoutTests {
    private let gib: UInt64 = 1 << 30

    @Test func smallGuestKeepsRAMBelowTheHole() throws {
        let layout = try X86_64Layout(memorySize: 512 << 20)
        #expect(layout.ram.map(\.range) == [AddressRange(start: 0, size: 512 << 20)!])
        #expect(layout.ram.map(\.slot) == [0])
        #expect(layout.mmio32.space == AddressRange(start: 3 * gib, size: 0xFEC0_0000 - 3 * gib)!)
        #expect(layout.mmio64.space.start == 4 * gib)
        #expect(layout.mmio64.space.end == 1 << 46)
        #expect(layout.portIO.space == AddressRange(start: 0, size: 0x10000)!)
    }

    @Test func largeGuestIsSplitAroundTheHole() throws {
        var layout = try X86_64Layout(memorySize: 8 * gib + 123)
        #expect(
            layout.ram.map(\.range) == [
                AddressRange(start: 0, size: 3 * gib)!, AddressRange(start: 4 * gib, size: 5 * gib + 123)!,
            ])
        #expect(layout.ram.reduce(0) { $0 + $1.range.size } == 8 * gib + 123)
        #expect(layout.ram.map(\.slot) == [0, 1])
        #expect(layout.mmio64.space.start == 10 * gib)  // first 1 GiB boundary above RAM
        #expect(layout.ramRegion(containing: 3 * gib) == nil)
        #expect(layout.ramRegion(containing: 4 * gib)?.slot == 1)
        #expect(try layout.memorySlots.allocate() == 2)
        #expect(try layout.legacyIRQs.allocate() == 0)
        #expect(try layout.msiGSIs.allocate() == 24)
        #expect(layout.msiGSIs.last == 4095)
    }

    @Test func invalidConfigurationsAreRejected() {
        #expect(throws: LayoutError.zeroMemory) { try X86_64Layout(memorySize: 0) }
        #expect(throws: LayoutError.memoryTooLarge(1 << 50)) { try X86_64Layout(memorySize: 1 << 50) }
        #expect(throws: LayoutError.invalidConfiguration("need mmio32Start < mmio32End <= 4 GiB")) {
            try X86_64Layout(.init(memorySize: gib, mmio32Start: 0xFF00_0000, mmio32End: 0xFE00_0000))
        }
        #expect(throws: LayoutError.invalidConfiguration("need 0 < legacyIRQCount < gsiCount")) {
            try X86_64Layout(.init(memorySize: gib, legacyIRQCount: 4096))
        }
    }

    @Test func savedLayoutRestoresEveryAllocator() throws {
        var layout = try X86_64Layout(memorySize: 6 * gib)
        let serial = try layout.portIO.allocate(size: 8, policy: .exact(0x3F8))
        let bar = try layout.mmio32.allocate(size: 1 << 20, alignment: 1 << 20)
        let bar64 = try layout.mmio64.allocate(size: 1 << 30, alignment: 1 << 30)
        try layout.legacyIRQs.reserve(4)
        let gsi = try layout.msiGSIs.allocate()
        let slot = try layout.memorySlots.allocate()
        let data = try JSONEncoder().encode(layout)
        var restored = try JSONDecoder().decode(X86_64Layout.self, from: data)
        #expect(restored.configuration == layout.configuration)
        #expect(restored.ram == layout.ram)
        #expect(restored.portIO.allocatedRanges == [serial])
        #expect(restored.mmio32.allocatedRanges == [bar])
        #expect(restored.mmio64.allocatedRanges == [bar64])
        #expect(restored.legacyIRQs.isAllocated(4))
        #expect(restored.msiGSIs.isAllocated(gsi))
        #expect(restored.memorySlots.isAllocated(slot))
        #expect(try restored.msiGSIs.allocate() == gsi + 1)
        #expect(
            try restored.mmio32.allocate(size: 1 << 20, alignment: 1 << 20)
                == layout.mmio32.allocate(size: 1 << 20, alignment: 1 << 20))
    }

    @Test func corruptedSavesAreRejected() throws {
        let layout = try X86_64Layout(memorySize: 6 * gib)
        let saved = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(layout)) as? [String: Any])
        func failure(_ object: [String: Any]) throws -> (key: String, reason: String)? {
            try decodingFailure(X86_64Layout.self, object)
        }
        #expect(try failure(saved) == nil)
        // The saved RAM claims more than the configuration gives.
        var biggerRAM = saved
        var ram = try #require(saved["ram"] as? [[String: Any]])
        var range = try #require(ram[1]["range"] as? [String: Any])
        range["size"] = 4 * gib
        ram[1]["range"] = range
        biggerRAM["ram"] = ram
        let bigger = try failure(biggerRAM)
        #expect(bigger?.key == "ram" && bigger?.reason == "does not match the configuration")
        // A different (valid) configuration no longer matches the saved RAM and windows.
        var movedHole = saved
        var moved = try #require(saved["configuration"] as? [String: Any])
        moved["mmio32Start"] = 2 * gib
        movedHole["configuration"] = moved
        let hole = try failure(movedHole)
        #expect(hole?.key == "ram" && hole?.reason == "does not match the configuration")
        // An invalid configuration, alone: only physicalAddressBits changes.
        var badBits = saved
        var configuration = try #require(saved["configuration"] as? [String: Any])
        configuration["physicalAddressBits"] = 64
        badBits["configuration"] = configuration
        let bits = try failure(badBits)
        #expect(bits?.key == "configuration")
        #expect(bits?.reason == "\(LayoutError.invalidConfiguration("physicalAddressBits must be 33...63"))")
    }
}
