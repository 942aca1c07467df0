import BlockStorage

/// One of the eight parent locator entries of a differencing disk's dynamic header.
public struct ParentLocatorEntry: Equatable, Sendable {
    /// Size of an entry on disk.
    public static let size = 24
    /// Relative Windows path, UTF-16LE.
    public static let w2ru: UInt32 = 0x5732_7275
    /// Absolute Windows path, UTF-16LE.
    public static let w2ku: UInt32 = 0x5732_6B75
    /// Mac OS X `file://` URL, UTF-8.
    public static let macX: UInt32 = 0x4D61_6358

    /// The platform code (`W2ru`, `W2ku`, `MacX`, …); 0 means unused.
    public var platformCode: UInt32
    /// Space reserved for the locator data: sectors per the specification, bytes in files
    /// written by Virtual PC and Hyper-V (see ``reservedBytes``).
    public var dataSpace: UInt32
    /// Length of the locator data in bytes.
    public var dataLength: UInt32
    /// The reserved field, kept as read so that a rewrite preserves it; 0 in new entries.
    public var reserved: UInt32 = 0
    /// File offset of the locator data.
    public var dataOffset: UInt64

    /// An entry with the given fields and a zero ``reserved`` field.
    public init(platformCode: UInt32, dataSpace: UInt32, dataLength: UInt32, dataOffset: UInt64) {
        self.platformCode = platformCode
        self.dataSpace = dataSpace
        self.dataLength = dataLength
        self.dataOffset = dataOffset
    }

    /// The unused entry.
    public static let unused = ParentLocatorEntry(platformCode: 0, dataSpace: 0, dataLength: 0, dataOffset: 0)

    /// Whether the entry describes a locator.
    public var isUsed: Bool { platformCode != 0 }

    /// Bytes the locator occupies in the file: the data space read as sectors when it is
    /// under 512 (the specification's unit), as bytes otherwise (what Hyper-V writes), and
    /// never less than the data length rounded up to a sector.
    public var reservedBytes: UInt64 {
        let space = dataSpace < 512 ? UInt64(dataSpace) * 512 : UInt64(dataSpace)
        return max(space, alignUp(UInt64(dataLength), 512))
    }
}

/// The 1024-byte dynamic disk header of dynamic and differencing disks.
public struct VHDDynamicHeader: Equatable, Sendable {
    /// Size of the structure on disk.
    public static let size = 1024
    /// Where fields that change in place sit (all in the first sector, with the checksum).
    static let tableOffsetOffset = 16, maxTableEntriesOffset = 28, checksumOffset = 36, parentTimestampOffset = 56
    /// The cookie at offset 0.
    public static let cookie = "cxsparse"
    /// The default block size (2 MiB).
    public static let defaultBlockSize: UInt32 = 2 << 20

    /// Unused by the format; all ones.
    public var dataOffset: UInt64 = .max
    /// File offset of the block allocation table.
    public var tableOffset: UInt64
    /// The header version; 0x0001_0000 (1.0).
    public var headerVersion: UInt32 = 0x0001_0000
    /// Number of BAT entries.
    public var maxTableEntries: UInt32
    /// Bytes of disk data per block (a power of two).
    public var blockSize: UInt32
    /// The checksum as stored (``serialized()`` recomputes it).
    public var checksum: UInt32 = 0
    /// The unique id of the parent image (differencing disks; zero otherwise).
    public var parentUniqueID: VHDUniqueID = .zero
    /// The parent file's modification time as a VHD timestamp when the child was linked to it
    /// (differencing disks; 0 when unknown).
    public var parentTimestamp: UInt32 = 0
    /// The reserved field after the parent timestamp, kept as read.
    public var reserved1: UInt32 = 0
    /// The parent's file name (UTF-16BE on disk, at most 256 code units).
    public var parentName: String = ""
    /// The eight parent locator entries.
    public var locators: [ParentLocatorEntry] = Array(repeating: .unused, count: 8)

    /// A header with the given BAT place, entry count and block size, no parent and unused
    /// locators.
    public init(tableOffset: UInt64, maxTableEntries: UInt32, blockSize: UInt32) {
        self.tableOffset = tableOffset
        self.maxTableEntries = maxTableEntries
        self.blockSize = blockSize
    }

    /// Parses a header, checking its cookie and checksum.
    public static func parse(_ bytes: [UInt8]) throws(VHDError) -> VHDDynamicHeader {
        let stored = try checkCookieAndChecksum(
            bytes, size: size, name: "header", cookie: Self.cookie, checksumOffset: checksumOffset)
        var header = VHDDynamicHeader(
            tableOffset: bytes.be64(tableOffsetOffset), maxTableEntries: bytes.be32(maxTableEntriesOffset),
            blockSize: bytes.be32(32))
        header.dataOffset = bytes.be64(8)
        header.headerVersion = bytes.be32(24)
        header.checksum = stored
        header.parentUniqueID = VHDUniqueID(bytes: Array(bytes[40..<56]))
        header.parentTimestamp = bytes.be32(parentTimestampOffset)
        header.reserved1 = bytes.be32(60)
        var units: [UInt16] = []
        for i in stride(from: 64, to: 576, by: 2) {
            let unit = bytes.be16(i)
            if unit == 0 { break }
            units.append(unit)
        }
        header.parentName = String(decoding: units, as: UTF16.self)
        header.locators = (0..<8).map { i in
            let o = 576 + i * ParentLocatorEntry.size
            var entry = ParentLocatorEntry(
                platformCode: bytes.be32(o), dataSpace: bytes.be32(o + 4), dataLength: bytes.be32(o + 8),
                dataOffset: bytes.be64(o + 16))
            entry.reserved = bytes.be32(o + 12)
            return entry
        }
        return header
    }

    /// The 1024 on-disk bytes, with a freshly computed checksum.
    public func serialized() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        for (i, c) in Self.cookie.utf8.enumerated() { b[i] = c }
        b.setBE64(dataOffset, at: 8)
        b.setBE64(tableOffset, at: Self.tableOffsetOffset)
        b.setBE32(headerVersion, at: 24)
        b.setBE32(maxTableEntries, at: Self.maxTableEntriesOffset)
        b.setBE32(blockSize, at: 32)
        for (i, byte) in parentUniqueID.bytes.enumerated() { b[40 + i] = byte }
        b.setBE32(parentTimestamp, at: Self.parentTimestampOffset)
        b.setBE32(reserved1, at: 60)
        for (i, unit) in parentName.utf16.prefix(256).enumerated() { b.setBE16(unit, at: 64 + 2 * i) }
        for (i, entry) in locators.prefix(8).enumerated() {
            let o = 576 + i * ParentLocatorEntry.size
            b.setBE32(entry.platformCode, at: o)
            b.setBE32(entry.dataSpace, at: o + 4)
            b.setBE32(entry.dataLength, at: o + 8)
            b.setBE32(entry.reserved, at: o + 12)
            b.setBE64(entry.dataOffset, at: o + 16)
        }
        b.setBE32(vhdChecksum(b, checksumOffset: Self.checksumOffset), at: Self.checksumOffset)
        return b
    }

    /// Bytes of the sector bitmap in front of each block: one bit per sector, rounded up to
    /// whole bytes and then to a whole sector — so one sector even for blocks under 4 KiB,
    /// per the specification (QEMU reads those as if they had no bitmap, libvhdi refuses them;
    /// Hyper-V only makes 512 KiB and 2 MiB blocks).
    public var bitmapSize: UInt64 { alignUp((UInt64(blockSize) / 512 + 7) / 8, 512) }

    /// Bytes of the BAT on disk (four bytes per entry, padded to a whole sector).
    public var tableSize: UInt64 { alignUp(UInt64(maxTableEntries) * 4, 512) }
}

/// The sentinel BAT entry of an unallocated block.
public let unallocatedBlock: UInt32 = 0xFFFF_FFFF
