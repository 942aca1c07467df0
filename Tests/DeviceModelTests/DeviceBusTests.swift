import DeviceModel
import Testing

/// A device bus maps every address to at most one device: ranges never overlap, empty or
/// wrapping ranges are refused, lookup finds exactly the device whose range holds an address
/// (with the offset inside it), and removal frees exactly the range it names.
@Suite struct DeviceBusTests {
    final class Named: PortIODevice {
        let name: String
        init(_ name: String) { self.name = name }
        func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {}
        func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {}
    }

    func name(_ bus: PortIOBus, _ address: UInt64) -> String? {
        (bus.lookup(address)?.device as? Named)?.name
    }

    @Test func lookupFindsTheOwningDeviceAndOffset() throws {
        let bus = PortIOBus()
        try bus.insert(Named("b"), base: 0x60, size: 0x10)
        try bus.insert(Named("a"), base: 0x20, size: 2)
        try bus.insert(Named("c"), base: 0x3f8, size: 8)
        #expect(bus.entries.map(\.range.base) == [0x20, 0x60, 0x3f8], "kept sorted by base")
        #expect(name(bus, 0x1f) == nil)
        #expect(name(bus, 0x20) == "a")
        #expect(bus.lookup(0x21)?.offset == 1)
        #expect(name(bus, 0x22) == nil, "one past the end of a range")
        #expect(name(bus, 0x6f) == "b")
        #expect(bus.lookup(0x3ff)?.offset == 7)
        #expect(name(bus, 0x400) == nil)
    }

    @Test func overlappingRangesAreRefusedWithTheRangeInTheWay() throws {
        let bus = PortIOBus()
        try bus.insert(Named("a"), base: 0x20, size: 0x10)
        let existing = try #require(BusRange(base: 0x20, size: 0x10))
        #expect(throws: BusError.overlap(BusRange(base: 0x2f, size: 2)!, existing: existing)) {
            try bus.insert(Named("x"), base: 0x2f, size: 2)
        }
        #expect(throws: BusError.overlap(BusRange(base: 0x10, size: 0x11)!, existing: existing)) {
            try bus.insert(Named("x"), base: 0x10, size: 0x11)
        }
        #expect(throws: BusError.overlap(BusRange(base: 0x0, size: 0x100)!, existing: existing)) {
            try bus.insert(Named("x"), base: 0x0, size: 0x100)
        }
        // Adjacent on both sides is fine.
        try bus.insert(Named("below"), base: 0x10, size: 0x10)
        try bus.insert(Named("above"), base: 0x30, size: 0x10)
        #expect(bus.entries.count == 3)
    }

    @Test func emptyAndWrappingRangesAreRefused() {
        let bus = MMIOBus()
        #expect(BusRange(base: 0x1000, size: 0) == nil)
        #expect(BusRange(base: .max, size: 2) == nil)
        #expect(BusRange(base: .max, size: 1)?.last == .max, "a range may end at the top of the space")
        #expect(throws: BusError.invalidRange(base: 0x1000, size: 0)) {
            try bus.insert(Recorder(), base: 0x1000, size: 0)
        }
        #expect(throws: BusError.invalidRange(base: .max - 1, size: 3)) {
            try bus.insert(Recorder(), base: .max - 1, size: 3)
        }
    }

    @Test func removeFreesExactlyTheNamedRange() throws {
        let bus = PortIOBus()
        try bus.insert(Named("a"), base: 0x20, size: 4)
        try bus.insert(Named("b"), base: 0x24, size: 4)
        #expect(throws: BusError.notFound(base: 0x22)) { try bus.remove(base: 0x22) }
        let removed = try bus.remove(base: 0x20)
        #expect((removed as? Named)?.name == "a")
        #expect(name(bus, 0x20) == nil)
        #expect(name(bus, 0x24) == "b")
        #expect(throws: BusError.notFound(base: 0x20)) { try bus.remove(base: 0x20) }
        try bus.insert(Named("a2"), base: 0x20, size: 4)
        #expect(name(bus, 0x23) == "a2")
    }

    final class Recorder: MMIODevice {
        func read(address: UInt64, offset: UInt64, into data: UnsafeMutableRawBufferPointer) {}
        func write(address: UInt64, offset: UInt64, from data: UnsafeRawBufferPointer) {}
    }
}
