import GuestMemory
import SystemPackage
import TestSupport
import Testing

@Suite struct SnapshotTests {
    static func contents(_ map: GuestMemoryMap) throws -> [[UInt8]] {
        try map.entries.map { try map.readBytes(count: Int($0.region.size), at: $0.region.guestBase) }
    }

    @Test func fullSnapshotRestoresByteIdenticalIntoAFreshMap() throws {
        var rng = SeededGenerator(seed: 11)
        let tracked = MmapRegionOptions(trackDirtyPages: true)
        let map = try GuestMemoryMap(entries: [
            .init(slot: MemorySlot(3), region: try makeRegion(0, pages: 3, tracked)),
            .init(slot: MemorySlot(0), region: try makeRegion(0x3000, pages: 2, tracked)),  // adjacent
            .init(slot: MemorySlot(7), region: try makeRegion(0x1_0000_0000, pages: 5, tracked)),
        ])
        for e in map.entries {
            try map.write(contentsOf: randomBytes(Int(e.region.size), using: &rng), at: e.region.guestBase)
        }
        let file = try TemporaryFile()
        try GuestMemorySnapshot.write(map, to: file.descriptor)
        let header = try GuestMemorySnapshot.readHeader(from: file.descriptor)
        #expect(!header.isPartial && header.regions.count == 3 && header.extents.count == 3)

        let restored = try GuestMemorySnapshot.restore(from: file.descriptor, options: tracked)
        #expect(restored.entries.map(\.slot) == map.entries.map(\.slot))
        #expect(restored.entries.map(\.region.guestRange) == map.entries.map(\.region.guestRange))
        #expect(try Self.contents(restored) == Self.contents(map))

        // Incremental: only dirty pages, applied on top of the restored copy.
        _ = try map.collectDirtyPages()
        for _ in 0..<20 {
            let e = map.entries.randomElement(using: &rng)!
            let offset = UInt64.random(in: 0..<e.region.size - 16, using: &rng)
            try map.write(
                contentsOf: randomBytes(16, using: &rng), at: GuestAddress(e.region.guestBase.rawValue + offset))
        }
        let dirty = try map.collectDirtyPages()
        let delta = try TemporaryFile()
        try GuestMemorySnapshot.write(map, to: delta.descriptor, content: .pages(dirty))
        let deltaHeader = try GuestMemorySnapshot.readHeader(from: delta.descriptor)
        #expect(deltaHeader.isPartial)
        #expect(deltaHeader.extents.reduce(0) { $0 + $1.range.count } == UInt64(dirty.count) * page)
        #expect(try Self.contents(restored) != Self.contents(map))
        try GuestMemorySnapshot.restore(from: delta.descriptor, into: restored)
        #expect(try Self.contents(restored) == Self.contents(map))
    }

    @Test func malformedSnapshotsAreRejected() throws {
        let map = try GuestMemoryMap(regions: [try makeRegion(0, pages: 1)])
        let file = try TemporaryFile()
        try GuestMemorySnapshot.write(map, to: file.descriptor)
        let good = try file.read(count: 1 << 20, at: 0)

        // The file is 8192 bytes: the 32-byte fixed header, one region record at 32 (base 0,
        // 4096 bytes, slot 0), one extent record at 56 (guest 0, 4096 bytes at file offset
        // 4096), zeros up to the data at 4096.
        func rejects(
            _ expected: GuestMemoryError, sourceLocation: SourceLocation = #_sourceLocation,
            _ patch: (inout [UInt8]) -> Void
        ) throws {
            var bytes = good
            patch(&bytes)
            let bad = try TemporaryFile()
            try bad.write(bytes)
            #expect(throws: expected, sourceLocation: sourceLocation) {
                try GuestMemorySnapshot.restore(from: bad.descriptor)
            }
        }
        try rejects(.invalidSnapshot("bad magic")) { $0[0] = 0 }  // magic
        try rejects(.invalidSnapshot("unsupported version 2")) { $0[8] = 2 }  // version
        try rejects(.invalidSnapshot("tables (4294967295 regions, 1 extents) do not fit in the 8192-byte file")) {
            $0[16...19] = [0xff, 0xff, 0xff, 0xff]  // 4 G regions in a small file
        }
        try rejects(.invalidSnapshot("tables (1 regions, 2147483647 extents) do not fit in the 8192-byte file")) {
            $0[20...23] = [0xff, 0xff, 0xff, 0x7f]  // extents
        }
        try rejects(.invalidSnapshot("1 regions and 1 extents are more than the file can hold")) {
            $0.removeLast(100)  // extent data beyond the file
        }
        try rejects(
            .invalidSnapshot(
                "extent 0 (4112 bytes at file offset 4096) is empty, not page-aligned, wraps or lies outside the file")
        ) {
            $0[32 + 24 + 8] = 0x10  // extent length no longer fits the file
        }
        try rejects(.unmapped(GuestAddress(0xf000))) {
            $0[32 + 24..<32 + 32] = [0, 0xf0, 0, 0, 0, 0, 0, 0]  // extent outside the map
        }
        // The region at 0xffff_ffff_ffff_f000 of one page ends exactly at 2^64, which a map
        // allows: the header and the restored map are valid, and it is the extent at 0, now
        // outside the map, that is refused.
        try rejects(.unmapped(.zero)) {
            $0[32..<40] = [0, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]  // region wraps past 2^64
        }
        // Two pages from 0xffff_ffff_ffff_f000 do wrap past 2^64.
        try rejects(.invalidSnapshot("region 0 at 0xfffffffffffff000 of 8192 bytes is empty or wraps")) {
            $0[32..<40] = [0, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
            $0[40..<48] = [0, 0x20, 0, 0, 0, 0, 0, 0]
        }
        try rejects(.invalidSnapshot("file is too short (10 bytes)")) { $0 = Array($0.prefix(10)) }  // truncated header
        try rejects(
            .invalidSnapshot(
                "extent 0 (4097 bytes at file offset 4096) is empty, not page-aligned, wraps or lies outside the file")
        ) {
            $0[32 + 24 + 8] = 0x01  // extent length not a whole page
        }
        // Pages outside the map are refused before the file is written.
        let other = try TemporaryFile()
        #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x5000))) {
            try GuestMemorySnapshot.write(map, to: other.descriptor, content: .pages([GuestAddress(0x5000)]))
        }
        #expect(try other.read(count: 16, at: 0).isEmpty)
        // And the untouched file restores.
        let copy = try TemporaryFile()
        try copy.write(good)
        _ = try GuestMemorySnapshot.restore(from: copy.descriptor)
    }
}
