import GuestMemory
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two adjacent regions [0x10000, 0x12000) and [0x12000, 0x13000), then a gap, then one page at 0x20000.
func adjacentMap(_ options: MmapRegionOptions = .init()) throws -> GuestMemoryMap {
    try GuestMemoryMap(regions: [
        try makeRegion(0x10000, pages: 2, options), try makeRegion(0x12000, pages: 1, options),
        try makeRegion(0x20000, pages: 1, options),
    ])
}

@Suite struct AccessTests {
    struct Header: BitwiseCopyable, Equatable { var a: UInt32; var b: UInt16; var c: UInt16; var d: UInt64 }

    @Test func integersInBothByteOrdersAcrossARegionBoundary() throws {
        let map = try adjacentMap()
        try map.write(UInt64(0x0102_0304_0506_0708), at: GuestAddress(0x11ffc), endianness: .big)
        #expect(try map.readBytes(count: 8, at: GuestAddress(0x11ffc)) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try map.read(UInt64.self, at: GuestAddress(0x11ffc)) == 0x0807_0605_0403_0201)
        try map.write(Int16(-2), at: GuestAddress(0x12000))
        #expect(try map.readBytes(count: 2, at: GuestAddress(0x12000)) == [0xFE, 0xFF])
        #expect(try map.read(Int16.self, at: GuestAddress(0x12000), endianness: .big) == -257)
    }

    @Test func trivialValuesRoundTrip() throws {
        let map = try adjacentMap()
        let value = Header(a: 1, b: 2, c: 3, d: 0xFFFF_0000_FFFF_0000)
        try map.writeValue(value, at: GuestAddress(0x11ff0))  // straddles the boundary
        #expect(try map.readValue(Header.self, at: GuestAddress(0x11ff0)) == value)
        #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x13000))) {
            try map.writeValue(value, at: GuestAddress(0x12ff8))
        }
    }

    @Test func atomicsOnGuestMemory() throws {
        let map = try adjacentMap()
        let a = GuestAddress(0x12008)
        try map.atomicStore(UInt64(5), at: a)
        #expect(try map.atomicLoad(UInt64.self, at: a) == 5)
        #expect(try map.compareExchange(expected: UInt64(4), desired: 9, at: a) == (false, 5))
        #expect(try map.compareExchange(expected: UInt64(5), desired: 9, at: a) == (true, 5))
        #expect(try map.atomicWrappingAdd(UInt64.max, at: a) == 9)
        #expect(try map.atomicLoad(UInt64.self, at: a) == 8)
        #expect(try map.compareExchange(expected: Int8(0), desired: -1, at: GuestAddress(0x10001)) == (true, 0))
        #expect(try map.atomicLoad(UInt8.self, at: GuestAddress(0x10001)) == 0xFF)
        #expect(try map.compareExchange(expected: UInt16(0), desired: 7, at: GuestAddress(0x10002)).exchanged)
        #expect(try map.atomicLoad(UInt32.self, at: GuestAddress(0x10000)) == 0x0007_FF00)
        #expect(throws: GuestMemoryError.misaligned(GuestAddress(0x12004), alignment: 8)) {
            try map.atomicLoad(UInt64.self, at: GuestAddress(0x12004))
        }
        #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x30000))) {
            try map.atomicLoad(UInt32.self, at: GuestAddress(0x30000))
        }
        // No 16-byte atomics: refused as misaligned for 16 bytes, though 0x10000 is 16-byte aligned.
        #expect(throws: GuestMemoryError.misaligned(GuestAddress(0x10000), alignment: 16)) {
            try map.atomicLoad(UInt128.self, at: GuestAddress(0x10000))
        }
    }

    @Test func concurrentAtomicIncrementsAreNotLost() async throws {
        let map = try adjacentMap()
        let counter = GuestAddress(0x20040)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { for _ in 0..<2000 { _ = try? map.atomicWrappingAdd(UInt32(1), at: counter) } }
            }
        }
        #expect(try map.atomicLoad(UInt32.self, at: counter) == 8000)
    }

    @Test func fileToGuestAndBackWithoutABounceBuffer() throws {
        let map = try adjacentMap()
        let file = try TemporaryFile()
        var rng = SeededGenerator(seed: 3)
        let content = randomBytes(10000, using: &rng)
        try file.write(content)
        // 0x10800 + 10000 crosses from the first region into the second.
        #expect(try map.read(from: file.descriptor, at: 0, into: GuestAddress(0x10800), count: 10000) == 10000)
        #expect(try map.readBytes(count: 10000, at: GuestAddress(0x10800)) == content)
        // Short read at end of file.
        #expect(try map.read(from: file.descriptor, at: 9000, into: GuestAddress(0x10000), count: 4096) == 1000)
        #expect(throws: GuestMemoryError.unexpectedEndOfFile(expected: 4096, transferred: 1000)) {
            try map.readExactly(from: file.descriptor, at: 9000, into: GuestAddress(0x10000), count: 4096)
        }
        // Guest → file at an offset.
        #expect(try map.write(to: file.descriptor, at: 20000, from: GuestAddress(0x10800), count: 10000) == 10000)
        #expect(try file.read(count: 10000, at: 20000) == content)
        // File offsets that are negative or would overflow are refused, not trapped on.
        #expect(throws: GuestMemoryError.system("preadv", .invalidArgument)) {
            try map.read(from: file.descriptor, at: .max - 10, into: GuestAddress(0x10000), count: 100)
        }
        #expect(throws: GuestMemoryError.system("pwritev", .invalidArgument)) {
            try map.write(to: file.descriptor, at: -1, from: GuestAddress(0x10000), count: 100)
        }
        // A range running into the gap is refused before any byte moves.
        #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x13000))) {
            try map.read(from: file.descriptor, at: 0, into: GuestAddress(0x12800), count: 4096)
        }
    }

    @Test func streamDescriptorsUseReadvAndWritev() throws {
        let map = try adjacentMap()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let reader = FileDescriptor(rawValue: fds[0]), writer = FileDescriptor(rawValue: fds[1])
        defer { try? reader.close(); try? writer.close() }
        try map.write(contentsOf: Array(0..<200).map { UInt8($0) }, at: GuestAddress(0x11f9c))
        #expect(try map.write(to: writer, from: GuestAddress(0x11f9c), count: 200) == 200)
        #expect(try map.read(from: reader, into: GuestAddress(0x20000), count: 200) == 200)
        #expect(try map.readBytes(count: 200, at: GuestAddress(0x20000)) == Array(0..<200).map { UInt8($0) })
    }

    @Test func fillAndReadOnlyAllOrNothing() throws {
        let ro = try makeRegion(0x13000, pages: 1, .init(readOnly: true))
        let map = try GuestMemoryMap(regions: [try makeRegion(0x12000, pages: 1), ro])
        #expect(throws: GuestMemoryError.readOnly(GuestAddress(0x13000))) {
            try map.fill(0xFF, count: 16, at: GuestAddress(0x12ff8))
        }
        #expect(try map.readBytes(count: 8, at: GuestAddress(0x12ff8)) == [UInt8](repeating: 0, count: 8))
        try map.fill(0xFF, count: 8, at: GuestAddress(0x12ff8))
        #expect(try map.readBytes(count: 9, at: GuestAddress(0x12ff8)) == [UInt8](repeating: 0xFF, count: 8) + [0])
    }

    /// The README's example, kept compiling and true.
    @Test func readmeExample() throws {
        let disk = try TemporaryFile()
        try disk.write([UInt8](repeating: 0xAA, count: 4096))
        let diskFD = disk.descriptor
        let ram = try MmapRegion(
            guestBase: GuestAddress(0), size: 256 << 20,
            options: .init(noReserve: true, guardPages: 1, trackDirtyPages: true))
        let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [ram]))
        try memory.write(UInt32(0xfeed), at: GuestAddress(0x1000))  // little-endian
        let header: UInt16 = try memory.read(at: GuestAddress(0x1004), endianness: .big)
        _ = try memory.read(from: diskFD, at: 0, into: GuestAddress(0x10_0000), count: 4096)
        let dirty = try memory.map.collectDirtyPages()
        #expect(header == 0)
        #expect(dirty == [GuestAddress(0x1000), GuestAddress(0x10_0000)])
        #expect(try memory.read(UInt8.self, at: GuestAddress(0x10_0fff)) == 0xAA)
    }
}
