import BlockStorage

/// The three kinds of VHD.
public enum VHDDiskType: UInt32, Sendable, CustomStringConvertible, CaseIterable {
    /// The disk data followed by the footer; no header, no blocks (disk type 2).
    case fixed = 2
    /// A sparse disk: blocks are allocated in the file as they are first written (disk type 3).
    case dynamic = 3
    /// A sparse disk whose unwritten sectors read from a parent image (disk type 4).
    case differencing = 4

    /// `fixed`, `dynamic` or `differencing`.
    public var description: String {
        switch self {
        case .fixed: return "fixed"
        case .dynamic: return "dynamic"
        case .differencing: return "differencing"
        }
    }
}

/// The 512-byte VHD footer (hard disk footer), at the end of every VHD and, for dynamic and
/// differencing disks, copied at offset 0.
public struct VHDFooter: Equatable, Sendable {
    /// Size of the structure on disk.
    public static let size = 512
    /// The cookie at offset 0.
    public static let cookie = "conectix"
    /// `dataOffset` of a fixed disk.
    public static let noDataOffset = UInt64.max

    /// The features field; 2 (the reserved bit the specification requires always set).
    public var features: UInt32 = 2
    /// The file format version; 0x0001_0000 (1.0).
    public var formatVersion: UInt32 = 0x0001_0000
    /// Offset of the dynamic header, or all ones for a fixed disk.
    public var dataOffset: UInt64
    /// Seconds since 2000-01-01 00:00:00 UTC.
    public var timestamp: UInt32
    /// Four-character code of the application that created the image (`win `, `qem2`, …).
    public var creatorApplication: UInt32
    /// Version of the creator application (major in the high 16 bits, minor in the low 16).
    public var creatorVersion: UInt32
    /// Four-character code of the host OS (`Wi2k`, `Mac `); may be zero.
    public var creatorHostOS: UInt32
    /// The disk size in bytes when the image was created (the initializer sets it to `currentSize`).
    public var originalSize: UInt64
    /// The disk size in bytes.
    public var currentSize: UInt64
    /// The CHS geometry (the initializer computes it with ``DiskGeometry/forSectorCount(_:)``).
    public var geometry: DiskGeometry
    /// Fixed, dynamic or differencing.
    public var diskType: VHDDiskType
    /// The checksum as stored (``serialized()`` recomputes it).
    public var checksum: UInt32 = 0
    /// The image's unique id (a differencing child records its parent's).
    public var uniqueID: VHDUniqueID
    /// 1 when the image is in a saved state (Virtual PC); 0 otherwise.
    public var savedState: UInt8 = 0

    /// A footer with the given fields; ``originalSize`` is `currentSize`, ``geometry`` the
    /// specification's CHS for it, and the remaining fields keep their defaults.
    public init(
        diskType: VHDDiskType, currentSize: UInt64, dataOffset: UInt64, uniqueID: VHDUniqueID,
        timestamp: UInt32, creatorApplication: UInt32, creatorVersion: UInt32, creatorHostOS: UInt32
    ) {
        self.diskType = diskType
        self.currentSize = currentSize
        self.originalSize = currentSize
        self.dataOffset = dataOffset
        self.uniqueID = uniqueID
        self.timestamp = timestamp
        self.creatorApplication = creatorApplication
        self.creatorVersion = creatorVersion
        self.creatorHostOS = creatorHostOS
        self.geometry = DiskGeometry.forSectorCount(currentSize / 512)
    }

    /// Parses a footer, checking its cookie, checksum and disk type. `name` prefixes field
    /// names in errors (`footer`, `footerCopy`).
    public static func parse(_ bytes: [UInt8], name: String = "footer") throws(VHDError) -> VHDFooter {
        let stored = try checkCookieAndChecksum(bytes, size: size, name: name, cookie: Self.cookie, checksumOffset: 64)
        let rawType = bytes.be32(60)
        guard let diskType = VHDDiskType(rawValue: rawType) else {
            throw .invalidField(
                field: "\(name).diskType", value: UInt64(rawType),
                reason: "must be 2 (fixed), 3 (dynamic) or 4 (differencing)")
        }
        var footer = VHDFooter(
            diskType: diskType, currentSize: bytes.be64(48), dataOffset: bytes.be64(16),
            uniqueID: VHDUniqueID(bytes: Array(bytes[68..<84])), timestamp: bytes.be32(24),
            creatorApplication: bytes.be32(28), creatorVersion: bytes.be32(32), creatorHostOS: bytes.be32(36))
        footer.features = bytes.be32(8)
        footer.formatVersion = bytes.be32(12)
        footer.originalSize = bytes.be64(40)
        footer.geometry = DiskGeometry(cylinders: bytes.be16(56), heads: bytes[58], sectorsPerTrack: bytes[59])
        footer.checksum = stored
        footer.savedState = bytes[84]
        return footer
    }

    /// The 512 on-disk bytes, with a freshly computed checksum.
    public func serialized() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        for (i, c) in Self.cookie.utf8.enumerated() { b[i] = c }
        b.setBE32(features, at: 8)
        b.setBE32(formatVersion, at: 12)
        b.setBE64(dataOffset, at: 16)
        b.setBE32(timestamp, at: 24)
        b.setBE32(creatorApplication, at: 28)
        b.setBE32(creatorVersion, at: 32)
        b.setBE32(creatorHostOS, at: 36)
        b.setBE64(originalSize, at: 40)
        b.setBE64(currentSize, at: 48)
        b.setBE16(geometry.cylinders, at: 56)
        b[58] = geometry.heads
        b[59] = geometry.sectorsPerTrack
        b.setBE32(diskType.rawValue, at: 60)
        for (i, byte) in uniqueID.bytes.enumerated() { b[68 + i] = byte }
        b[84] = savedState
        b.setBE32(vhdChecksum(b, checksumOffset: 64), at: 64)
        return b
    }
}

/// A four-character code such as `"win "` as the big-endian integer the footer stores.
public func fourCC(_ text: String) -> UInt32 {
    var value: UInt32 = 0
    var bytes = Array(text.utf8.prefix(4))
    while bytes.count < 4 { bytes.append(0x20) }
    for b in bytes { value = value << 8 | UInt32(b) }
    return value
}

/// The text of a four-character code (unprintable bytes as `\xNN`).
public func fourCCText(_ value: UInt32) -> String {
    var b = [UInt8](repeating: 0, count: 4)
    b.setBE32(value, at: 0)
    return b.ascii(0..<4)
}
