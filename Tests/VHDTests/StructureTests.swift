import TestSupport
import Testing

@testable import VHD

@Suite struct StructureTests {
    /// Geometry computed by hand with the specification's algorithm (it rounds down; QEMU's
    /// rounds up, e.g. 1004/12/17 for 100 MiB).
    @Test func specificationGeometry() {
        let cases: [(UInt64, DiskGeometry)] = [
            (2048, DiskGeometry(cylinders: 30, heads: 4, sectorsPerTrack: 17)),
            (204_800, DiskGeometry(cylinders: 1003, heads: 12, sectorsPerTrack: 17)),
            (20_971_520, DiskGeometry(cylinders: 20805, heads: 16, sectorsPerTrack: 63)),
            (419_430_400, DiskGeometry(cylinders: 65535, heads: 16, sectorsPerTrack: 255)),
        ]
        for (sectors, expected) in cases {
            let geometry = DiskGeometry.forSectorCount(sectors)
            #expect(geometry == expected, "\(sectors) sectors")
            #expect(geometry.sectorCount <= sectors)
        }
    }

    @Test func uniqueIDParsesItsOwnText() {
        for _ in 0..<20 {
            let id = VHDUniqueID.random()
            #expect(VHDUniqueID(parsing: id.description) == id)
            #expect(VHDUniqueID(parsing: id.description.split(separator: "-").joined()) == id)
        }
        #expect(
            VHDUniqueID(parsing: "00112233-4455-6677-8899-aabbccddeeff")?.bytes
                == Array(stride(from: 0, through: 0xFF, by: 0x11).map(UInt8.init)))
        for bad in [
            "", "0011", "00112233-4455-6677-8899-aabbccddeefg", "0011223344-55-6677-8899-aabbccddeeff",
            "+0112233445566778899aabbccddeeff",
        ] {
            #expect(VHDUniqueID(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func footerRoundTripsAndChecksumCoversEveryByte() throws {
        var footer = VHDFooter(
            diskType: .dynamic, currentSize: 10 << 20, dataOffset: 512, uniqueID: .random(), timestamp: 12345,
            creatorApplication: fourCC("win "), creatorVersion: 0x000A_0000, creatorHostOS: fourCC("Wi2k"))
        footer.savedState = 1
        let bytes = footer.serialized()
        #expect(bytes.count == 512)
        var parsed = try VHDFooter.parse(bytes)
        #expect(parsed.checksum == bytes.be32(64))
        parsed.checksum = footer.checksum
        #expect(parsed == footer)
        // The checksum is the complement of the byte sum without the checksum field.
        let sum = bytes.enumerated().reduce(UInt32(0)) {
            $0 &+ (($1.offset >= 64 && $1.offset < 68) ? 0 : UInt32($1.element))
        }
        #expect(bytes.be32(64) == ~sum)
        // Byte 0 is the cookie's "c", which becomes "#"; the other bytes are zero, so setting
        // bit 0x40 adds 64 to the sum and takes 64 off the computed checksum.
        let checksumOff64 = VHDError.badChecksum(field: "footer.checksum", stored: bytes.be32(64), computed: ~sum &- 64)
        for (i, expected) in [
            (0, VHDError.badCookie(field: "footer.cookie", expected: "conectix", found: "#onectix")),
            (9, checksumOff64), (50, checksumOff64), (100, checksumOff64), (511, checksumOff64),
        ] {
            var damaged = bytes
            damaged[i] ^= 0x40
            #expect(throws: expected, "byte \(i)") { try VHDFooter.parse(damaged) }
        }
    }

    @Test func headerRoundTripsWithLocatorsAndParentName() throws {
        var header = VHDDynamicHeader(tableOffset: 1536, maxTableEntries: 77, blockSize: 1 << 21)
        header.parentUniqueID = .random()
        header.parentTimestamp = 999
        header.parentName = "pärent disk.vhd"
        header.locators[0] = ParentLocatorEntry(
            platformCode: ParentLocatorEntry.w2ru, dataSpace: 512, dataLength: 30, dataOffset: 2048)
        header.locators[1] = ParentLocatorEntry(
            platformCode: ParentLocatorEntry.macX, dataSpace: 1, dataLength: 40, dataOffset: 2560)
        var parsed = try VHDDynamicHeader.parse(header.serialized())
        parsed.checksum = 0
        #expect(parsed == header)
        #expect(header.bitmapSize == 512)
        #expect(header.tableSize == 512)
        // Data space: sectors under 512 (the specification), bytes from 512 up (Hyper-V).
        #expect(header.locators[1].reservedBytes == 512)
        #expect(header.locators[0].reservedBytes == 512)
    }

    @Test func sectorBitmapIsMostSignificantBitFirst() {
        var bitmap = SectorBitmap(byteCount: 2)
        let changed = bitmap.assign(1..<3, to: true)
        #expect(changed)
        #expect(bitmap.bytes == [0x60, 0])
        bitmap.assign(7..<16, to: true)
        #expect(bitmap.bytes == [0x61, 0xFF])
        #expect(
            bitmap.runs(0..<16).map { [$0.sectors.lowerBound, $0.sectors.upperBound, $0.set ? 1 : 0] }
                == [[0, 1, 0], [1, 3, 1], [3, 7, 0], [7, 16, 1]])
        #expect(bitmap.allSet(8..<16) && !bitmap.allSet(0..<16) && bitmap.noneSet(3..<7))
    }

    @Test func newBlocksGoAfterAllMetadataIncludingLocators() throws {
        let dir = try TemporaryDirectory()
        var options = VHDCreateOptions(type: .dynamic, size: 4 << 20)
        options.blockSize = 1 << 20
        _ = try VHDImage.create(path: dir.file("p.vhd"), options: options)
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("p.vhd"))
            let locatorEnd = child.header!.locators.filter(\.isUsed).map { $0.dataOffset + $0.reservedBytes }.max()!
            #expect(locatorEnd > child.header!.tableOffset + child.header!.tableSize)
            try child.write(pattern(4096, seed: 1), at: 0)
            try child.flush()
            #expect(UInt64(child.blockAllocationTable[0]) * 512 >= locatorEnd)
        }
        // The locators survived: the parent is still found.
        let reopened = try VHDImage.open(path: dir.file("c.vhd"), readOnly: true)
        #expect(reopened.parentPath == dir.file("p.vhd"))
        #expect(try reopened.read(at: 0, length: 4096) == pattern(4096, seed: 1))
    }

    @Test func azureAlignmentRoundsFixedSizesUpToWholeMiB() throws {
        let dir = try TemporaryDirectory()
        var options = VHDCreateOptions(type: .fixed, size: (5 << 20) + 512)
        options.alignToMiB = true
        let image = try VHDImage.create(path: dir.file("a.vhd"), options: options)
        #expect(image.capacity == 6 << 20)
        #expect(try readFile(dir.file("a.vhd")).count == (6 << 20) + 512)
    }
}
