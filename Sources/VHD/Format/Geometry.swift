import BlockStorage

/// Cylinder/head/sector geometry as stored in the VHD footer.
public struct DiskGeometry: Equatable, Sendable, CustomStringConvertible {
    /// The number of cylinders (at most 65535).
    public var cylinders: UInt16
    /// The number of heads (at most 16 in geometries this library computes).
    public var heads: UInt8
    /// Sectors per track (17, 31, 63 or 255 in geometries this library computes).
    public var sectorsPerTrack: UInt8

    /// A geometry with the given values, as stored.
    public init(cylinders: UInt16, heads: UInt8, sectorsPerTrack: UInt8) {
        self.cylinders = cylinders
        self.heads = heads
        self.sectorsPerTrack = sectorsPerTrack
    }

    /// The number of sectors the geometry addresses (C × H × S).
    public var sectorCount: UInt64 { UInt64(cylinders) * UInt64(heads) * UInt64(sectorsPerTrack) }

    /// `C/H/S`, e.g. `301/4/17`.
    public var description: String { "\(cylinders)/\(heads)/\(sectorsPerTrack)" }

    /// The geometry the VHD specification (appendix "CHS Calculation") assigns to a disk of
    /// `totalSectors` sectors. It rounds down, so C×H×S may be smaller than the disk; the
    /// footer's current size stays the authoritative disk size.
    public static func forSectorCount(_ totalSectors: UInt64) -> DiskGeometry {
        var total = totalSectors
        if total > 65535 * 16 * 255 { total = 65535 * 16 * 255 }
        var sectorsPerTrack: UInt64
        var heads: UInt64
        var cylinderTimesHeads: UInt64
        if total >= 65535 * 16 * 63 {
            sectorsPerTrack = 255
            heads = 16
            cylinderTimesHeads = total / sectorsPerTrack
        } else {
            sectorsPerTrack = 17
            cylinderTimesHeads = total / sectorsPerTrack
            heads = (cylinderTimesHeads + 1023) / 1024
            if heads < 4 { heads = 4 }
            if cylinderTimesHeads >= heads * 1024 || heads > 16 {
                sectorsPerTrack = 31
                heads = 16
                cylinderTimesHeads = total / sectorsPerTrack
            }
            if cylinderTimesHeads >= heads * 1024 {
                sectorsPerTrack = 63
                heads = 16
                cylinderTimesHeads = total / sectorsPerTrack
            }
        }
        let cylinders = cylinderTimesHeads / heads
        return DiskGeometry(
            cylinders: UInt16(min(cylinders, 65535)), heads: UInt8(heads), sectorsPerTrack: UInt8(sectorsPerTrack))
    }
}
