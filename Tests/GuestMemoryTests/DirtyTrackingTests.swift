import GuestMemory
import TestSupport
import Testing

@Suite struct DirtyTrackingTests {
    @Test(arguments: 0..<8 as Range<UInt64>)
    func bitmapEqualsThePagesWrittenByHostWrites(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let tracked = MmapRegionOptions(trackDirtyPages: true)
        let map = try GuestMemoryMap(regions: [
            try makeRegion(0x100000, pages: 70, tracked),  // more than one bitmap word
            try makeRegion(0x146000, pages: 3, tracked),  // adjacent
            try makeRegion(0x200000, pages: 5),  // untracked: never reported
        ])
        let file = try TemporaryFile()
        try file.write(randomBytes(4 * Int(page), using: &rng))
        var expected = Set<UInt64>()
        func note(_ address: UInt64, _ count: Int) {
            guard count > 0, address < 0x149000 else { return }
            for p in (address / page)...((address + UInt64(count) - 1) / page) { expected.insert(p * page) }
        }
        for _ in 0..<60 {
            let address = UInt64.random(in: 0x100000..<0x149000 - 64, using: &rng) & ~7
            switch Int.random(in: 0..<6, using: &rng) {
            case 0:
                let n = Int.random(in: 0...min(3 * Int(page), Int(0x149000 - address)), using: &rng)
                try map.write(contentsOf: randomBytes(n, using: &rng), at: GuestAddress(address)); note(address, n)
            case 1:
                try map.write(UInt64.random(in: 0...UInt64.max, using: &rng), at: GuestAddress(address));
                note(address, 8)
            case 2: try map.atomicStore(UInt32(1), at: GuestAddress(address)); note(address, 4)
            case 3:
                _ = try map.compareExchange(expected: UInt16(0), desired: 1, at: GuestAddress(address));
                note(address, 2)
            case 4:
                let n = Int.random(in: 1...min(4 * Int(page), Int(0x149000 - address)), using: &rng)
                try map.readExactly(from: file.descriptor, at: 0, into: GuestAddress(address), count: n);
                note(address, n)
            default:
                _ = try map.readBytes(count: 64, at: GuestAddress(address))  // reads do not dirty
                _ = try map.atomicLoad(UInt64.self, at: GuestAddress(address))
            }
        }
        try map.write(UInt32(1), at: GuestAddress(0x200000))  // untracked region
        let collected = try map.collectDirtyPages()
        #expect(collected == expected.sorted().map { GuestAddress($0) }, "seed \(seed)")
        #expect(try map.collectDirtyPages().isEmpty)  // collecting cleared the bitmaps
    }

    @Test func bitmapMarkingClampsToTheRegion() {
        let bitmap = DirtyBitmap(byteCount: 130 * page)
        bitmap.mark(offset: 63 * page + 1, count: 2 * page)  // pages 63, 64, 65 across a word boundary
        bitmap.mark(offset: 129 * page, count: .max)  // runs past the end (and past 2^64)
        bitmap.mark(offset: 200 * page, count: 1)  // outside: ignored
        bitmap.mark(offset: 0, count: 0)  // empty: ignored
        #expect(bitmap.dirtyPages() == [63, 64, 65, 129])
        #expect(bitmap.isDirty(page: 64) && !bitmap.isDirty(page: 66) && !bitmap.isDirty(page: 1000))
        #expect(bitmap.takeWords() == [1 << 63, 0b11, 1 << 1])
        #expect(bitmap.dirtyPages().isEmpty)
    }

    @Test(arguments: [0, 1, 10, 0x1000, 0x1001, 0x1ff0])
    func aWriteThatStopsShortOfTheRangeDirtiesWhatItWrote(written: Int) throws {
        // Two adjacent tracked regions, one page each; the range starts 16 bytes before the end of
        // the first and crosses three pages of the map. The body writes `written` leading bytes.
        let map = try GuestMemoryMap(regions: [
            try makeRegion(0, pages: 1, .init(trackDirtyPages: true)),
            try makeRegion(0x1000, pages: 2, .init(trackDirtyPages: true)),
        ])
        let start: UInt64 = 0xff0, count = 0x2000
        try map.withHostSegments(at: GuestAddress(start), count: count, forWriting: true) { segments in
            #expect(segments.count == 2)
            return ((), written)
        }
        let expected =
            written == 0
            ? [] : Array(stride(from: start / 0x1000, through: (start + UInt64(written) - 1) / 0x1000, by: 1))
        #expect(try map.collectDirtyPages() == expected.map { GuestAddress($0 * 0x1000) })
    }

    @Test func failedCompareExchangeAndFailedWritesDoNotDirty() throws {
        let map = try GuestMemoryMap(regions: [try makeRegion(0, pages: 2, .init(trackDirtyPages: true))])
        #expect(try map.compareExchange(expected: UInt32(5), desired: 1, at: GuestAddress(0x1000)).exchanged == false)
        #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x2000))) {
            try map.write(contentsOf: [1, 2, 3], at: GuestAddress(0x1fff))
        }
        #expect(try map.collectDirtyPages().isEmpty)
    }

    @Test func mergesKVMDirtyLogBitmapsAndRingEntries() throws {
        let tracked = MmapRegionOptions(trackDirtyPages: true)
        let low = try makeRegion(0, pages: 130, tracked)
        let high = try makeRegion(0x1_0000_0000, pages: 4)
        let map = try GuestMemoryMap(regions: [low, high])  // slots 0 and 1
        try map.write(UInt8(1), at: GuestAddress(5 * page))  // own bitmap: page 5
        // KVM dirty log for slot 0: pages 0, 5 (duplicate), 64 and 129; 3 words as KVM rounds up.
        let bitmap: [UInt64] = [1 | 1 << 5, 1, 1 << 1]
        let log = ExternalDirtyLog(
            bitmaps: [MemorySlot(0): bitmap],
            ringEntries: [
                DirtyRingEntry(slot: MemorySlot(1), pageOffset: 3), DirtyRingEntry(slot: MemorySlot(1), pageOffset: 3),
                DirtyRingEntry(slot: MemorySlot(0), pageOffset: 7),
            ])
        let pages = try map.collectDirtyPages(merging: log)
        #expect(pages == [0, 5, 7, 64, 129].map { GuestAddress($0 * page) } + [GuestAddress(0x1_0000_0000 + 3 * page)])
    }

    @Test func badExternalLogsAreTypedErrorsAndLoseNothing() throws {
        let map = try GuestMemoryMap(regions: [try makeRegion(0, pages: 10, .init(trackDirtyPages: true))])
        try map.write(UInt8(1), at: GuestAddress(2 * page))
        #expect(throws: GuestMemoryError.unknownSlot(MemorySlot(4))) {
            try map.collectDirtyPages(merging: ExternalDirtyLog(bitmaps: [MemorySlot(4): [1]]))
        }
        #expect(throws: GuestMemoryError.dirtyPageOutOfRange(MemorySlot(0), page: 10)) {
            try map.collectDirtyPages(merging: ExternalDirtyLog(bitmaps: [MemorySlot(0): [1 << 10]]))
        }
        #expect(throws: GuestMemoryError.dirtyPageOutOfRange(MemorySlot(0), page: 99)) {
            try map.collectDirtyPages(
                merging: ExternalDirtyLog(ringEntries: [DirtyRingEntry(slot: MemorySlot(0), pageOffset: 99)]))
        }
        #expect(try map.collectDirtyPages() == [GuestAddress(2 * page)])
    }
}
