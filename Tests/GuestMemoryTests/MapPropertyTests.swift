import GuestMemory
import TestSupport
import Testing

/// A plain byte-array model of a guest memory map.
struct MemoryModel {
    struct Region { var base: UInt64; var bytes: [UInt8]; var readOnly: Bool }
    var regions: [Region]

    func locate(_ address: UInt64) -> (Int, Int)? {
        for (i, r) in regions.enumerated() where address >= r.base && address - r.base < UInt64(r.bytes.count) {
            return (i, Int(address - r.base))
        }
        return nil
    }

    /// The error the real map must report for this access, or nil if it must succeed.
    func expectedError(_ address: UInt64, _ count: Int, writing: Bool) -> GuestMemoryError? {
        if count == 0 { return nil }
        if address > UInt64.max - UInt64(count - 1) {
            return .addressOverflow(GuestAddress(address), offset: UInt64(count))
        }
        for k in 0..<UInt64(count) {
            guard let (i, _) = locate(address + k) else { return .unmapped(GuestAddress(address + k)) }
            if writing && regions[i].readOnly { return .readOnly(GuestAddress(address + k)) }
        }
        return nil
    }

    func read(_ address: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).map { k in
            let (i, o) = locate(address + UInt64(k))!
            return regions[i].bytes[o]
        }
    }

    mutating func write(_ bytes: [UInt8], at address: UInt64) {
        for (k, b) in bytes.enumerated() {
            let (i, o) = locate(address + UInt64(k))!
            regions[i].bytes[o] = b
        }
    }
}

@Suite struct MapPropertyTests {
    /// A random layout: up to 5 regions of 1–3 pages, sometimes adjacent, sometimes read-only,
    /// placed near 0, in the middle, or ending exactly at 2^64.
    static func randomLayout(_ rng: inout SeededGenerator) throws -> (GuestMemoryMap, MemoryModel) {
        let n = Int.random(in: 1...5, using: &rng)
        var sizes: [UInt64] = []
        var gaps: [UInt64] = []
        for _ in 0..<n {
            sizes.append(UInt64.random(in: 1...3, using: &rng) * page)
            gaps.append([0, 0, page, 3 * page].randomElement(using: &rng)!)
        }
        let span = zip(sizes, gaps).reduce(0) { $0 + $1.0 + $1.1 }
        let placement = Int.random(in: 0..<3, using: &rng)
        var base: UInt64 = placement == 0 ? 0 : placement == 1 ? 0x1_0000_0000 : 0 &- span
        if placement == 2 { base += gaps[0] }  // the last region ends exactly at 2^64
        var regions: [any GuestMemoryRegion] = []
        var model = MemoryModel(regions: [])
        for i in 0..<n {
            if placement != 2 || i > 0 { base += gaps[i] }
            let readOnly = Int.random(in: 0..<5, using: &rng) == 0
            let region = try MmapRegion(
                guestBase: GuestAddress(base), size: sizes[i], options: .init(readOnly: readOnly))
            var bytes = [UInt8](repeating: 0, count: Int(sizes[i]))
            if !readOnly {
                bytes = randomBytes(Int(sizes[i]), using: &rng)
                bytes.withUnsafeBytes { region.hostBase.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            regions.append(region)
            model.regions.append(.init(base: base, bytes: bytes, readOnly: readOnly))
            base = base &+ sizes[i]
        }
        return (try GuestMemoryMap(regions: regions.shuffled(using: &rng)), model)
    }

    /// An address likely to be interesting: near a region edge, near 2^64, or anywhere.
    static func randomAddress(_ model: MemoryModel, _ rng: inout SeededGenerator) -> UInt64 {
        let r = model.regions.randomElement(using: &rng)!
        let delta = UInt64.random(in: 0...16, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return r.base &- delta
        case 1: return r.base &+ UInt64(r.bytes.count) &- delta
        case 2: return r.base &+ UInt64.random(in: 0..<UInt64(r.bytes.count), using: &rng)
        case 3: return UInt64.max &- delta
        case 4: return UInt64.random(in: 0...UInt64.max, using: &rng)
        default: return r.base &+ UInt64(r.bytes.count) &- UInt64(r.bytes.count / 2)
        }
    }

    @Test(arguments: 0..<40 as Range<UInt64>)
    func randomAccessesMatchTheModel(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var (map, model) = try Self.randomLayout(&rng)
        for step in 0..<150 {
            let address = Self.randomAddress(model, &rng)
            let count = [0, 1, 2, 4, 8, Int.random(in: 0...(3 * Int(page)), using: &rng)].randomElement(using: &rng)!
            let context = Comment(
                rawValue: "seed \(seed) step \(step) address 0x\(String(address, radix: 16)) count \(count)")
            switch Int.random(in: 0..<6, using: &rng) {
            case 0:  // bulk read
                var buffer = [UInt8](repeating: 0xEE, count: count)
                let result = Result { () throws(GuestMemoryError) in
                    try map.read(into: &buffer, at: GuestAddress(address))
                }
                if let expected = model.expectedError(address, count, writing: false) {
                    #expect(throws: expected, context) { try result.get() }
                } else {
                    try result.get()
                    #expect(buffer == model.read(address, count), context)
                }
            case 1:  // bulk write
                let bytes = randomBytes(count, using: &rng)
                let expected = model.expectedError(address, count, writing: true)
                let result = Result { () throws(GuestMemoryError) in
                    try map.write(contentsOf: bytes, at: GuestAddress(address))
                }
                if let expected {
                    #expect(throws: expected, context) { try result.get() }
                } else {
                    try result.get()
                    model.write(bytes, at: address)
                }
            case 2:  // readBytes (allocates only after the range check)
                let expected = model.expectedError(address, count, writing: false)
                if let expected {
                    #expect(throws: expected, context) { try map.readBytes(count: count, at: GuestAddress(address)) }
                } else {
                    #expect(
                        try map.readBytes(count: count, at: GuestAddress(address)) == model.read(address, count),
                        context)
                }
            case 4:  // lent host segments: the range's bytes in order, written through when asked
                let writing = Bool.random(using: &rng)
                let bytes = randomBytes(count, using: &rng)
                let result = Result { () throws(GuestMemoryError) -> [UInt8] in
                    try map.withHostSegments(at: GuestAddress(address), count: count, forWriting: writing) {
                        (segments) throws(GuestMemoryError) -> (result: [UInt8], bytesWritten: Int) in
                        var seen: [UInt8] = []
                        for segment in segments {
                            #expect(segment.count > 0, context)
                            if writing {
                                bytes[seen.count..<seen.count + segment.count].withUnsafeBytes {
                                    segment.copyMemory(from: $0)
                                }
                            }
                            seen += segment
                        }
                        return (seen, writing ? count : 0)
                    }
                }
                if let expected = model.expectedError(address, count, writing: writing) {
                    #expect(throws: expected, context) { try result.get() }
                } else {
                    if writing {
                        #expect(try result.get() == bytes, context)
                        model.write(bytes, at: address)
                    } else {
                        #expect(try result.get() == model.read(address, count), context)
                    }
                }
            case 5:  // values through the existential (16 bytes and less on the stack, larger apart)
                let memory: any GuestMemoryAccess = map
                for size in [4, 16, 24] {
                    let read = Result { () throws(GuestMemoryError) -> [UInt8] in
                        switch size {
                        case 4:
                            withUnsafeBytes(
                                of: try memory.readValue(UInt32.self, at: GuestAddress(address)), Array.init)
                        case 16:
                            withUnsafeBytes(
                                of: try memory.readValue((UInt64, UInt64).self, at: GuestAddress(address)), Array.init)
                        default:
                            withUnsafeBytes(
                                of: try memory.readValue((UInt64, UInt64, UInt64).self, at: GuestAddress(address)),
                                Array.init)
                        }
                    }
                    if let expected = model.expectedError(address, size, writing: false) {
                        #expect(throws: expected, context) { try read.get() }
                    } else {
                        #expect(try read.get() == model.read(address, size), context)
                    }
                }
            default:  // integers in both byte orders
                let value = UInt32.random(in: 0...UInt32.max, using: &rng)
                let big = Bool.random(using: &rng)
                let order: Endianness = big ? .big : .little
                if let expected = model.expectedError(address, 4, writing: true) {
                    #expect(throws: expected, context) {
                        try map.write(value, at: GuestAddress(address), endianness: order)
                    }
                } else {
                    try map.write(value, at: GuestAddress(address), endianness: order)
                    model.write(
                        withUnsafeBytes(of: big ? value.bigEndian : value.littleEndian, Array.init), at: address)
                    #expect(try map.read(UInt32.self, at: GuestAddress(address), endianness: order) == value, context)
                }
            }
        }
        // Finally every region holds exactly the model's bytes.
        for r in model.regions {
            let actual = try map.readBytes(count: r.bytes.count, at: GuestAddress(r.base))
            #expect(actual == r.bytes, "seed \(seed) region 0x\(String(r.base, radix: 16))")
        }
        withExtendedLifetime(map) { map = map }
    }

    @Test func overlappingRegionsAreRejected() throws {
        let a = try makeRegion(0x10000, pages: 4)
        let b = try makeRegion(0x13000, pages: 1)
        #expect(throws: GuestMemoryError.overlappingRegions(a.guestRange!, b.guestRange!)) {
            try GuestMemoryMap(regions: [b, a])
        }
        let map = try GuestMemoryMap(regions: [a])
        #expect(throws: GuestMemoryError.overlappingRegions(a.guestRange!, b.guestRange!)) { try map.inserting(b) }
        #expect(throws: GuestMemoryError.overlappingRegions(a.guestRange!, a.guestRange!)) {
            try GuestMemoryMap(regions: [a, a])
        }
    }

    @Test func translationFindsEveryRegionAndNoGap() throws {
        var rng = SeededGenerator(seed: 99)
        let regions = try (0..<64).map { i in try makeRegion(UInt64(i) * 3 * page, pages: 2) }
        let map = try GuestMemoryMap(regions: regions.shuffled(using: &rng))
        for r in regions {
            #expect(map.hostAddress(of: r.guestBase) == r.hostBase)
            #expect(
                map.hostAddress(of: GuestAddress(r.guestBase.rawValue + 2 * page - 1)) == r.hostBase + Int(2 * page - 1)
            )
            #expect(map.hostAddress(of: GuestAddress(r.guestBase.rawValue + 2 * page)) == nil)
        }
        #expect(map.hostAddress(of: GuestAddress(.max)) == nil)
        #expect(try GuestMemoryMap(regions: []).hostAddress(of: .zero) == nil)
    }

    /// The search tree against a linear scan, for tree sizes around powers of two.
    @Test(arguments: [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 100])
    func translationMatchesALinearScan(regionCount: Int) throws {
        var rng = SeededGenerator(seed: UInt64(regionCount))
        var base: UInt64 = UInt64.random(in: 0...4, using: &rng) * page
        var regions: [MmapRegion] = []
        for _ in 0..<regionCount {
            let pages = UInt64.random(in: 1...2, using: &rng)
            regions.append(try makeRegion(base, pages: pages, .init(noReserve: true)))
            base += (pages + UInt64.random(in: 0...2, using: &rng)) * page
        }
        let map = try GuestMemoryMap(regions: regions.shuffled(using: &rng))
        var probes: [UInt64] = [0, .max, base, base &- 1]
        for r in regions {
            probes += [
                r.guestBase.rawValue &- 1, r.guestBase.rawValue, r.guestBase.rawValue + r.size - 1,
                r.guestBase.rawValue + r.size,
            ]
        }
        for _ in 0..<200 { probes.append(UInt64.random(in: 0...base + page, using: &rng)) }
        for a in probes {
            let expected = regions.first { $0.guestRange!.contains(GuestAddress(a)) }
            let found = map.entry(containing: GuestAddress(a))?.region
            #expect(found === expected, "count \(regionCount) address 0x\(String(a, radix: 16))")
            if let expected {
                #expect(
                    map.hostAddress(of: GuestAddress(a)) == expected.hostBase + Int(a - expected.guestBase.rawValue))
            }
        }
    }

    @Test func zeroLengthAccessesSucceedAnywhere() throws {
        let map = try GuestMemoryMap(regions: [try makeRegion(0x1000, pages: 1)])
        try map.write(contentsOf: [], at: GuestAddress(.max))
        #expect(try map.readBytes(count: 0, at: GuestAddress(0x9999_0000)) == [])
        // A negative count is named as such (it was reported as "0x1000 + 0 overflows 64 bits").
        #expect(throws: GuestMemoryError.negativeLength(-1)) { try map.readBytes(count: -1, at: GuestAddress(0x1000)) }
    }
}
