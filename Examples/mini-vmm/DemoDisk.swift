import BlockStorage
import Foundation
import VHD

/// The disk mini-vmm drives: a given file (raw or any VHD type) or a demo image.
enum DemoDisk {
    /// The demo disk's size.
    static let demoSize: UInt64 = 8 << 20

    /// The known contents of demo sector `index`: a text line, then bytes `(index + i) & 0xff`.
    static func demoSector(_ index: UInt64) -> [UInt8] {
        var sector = Array("mini-vmm demo disk, sector \(index)\n".utf8)
        sector += (sector.count..<512).map { UInt8(truncatingIfNeeded: index &+ UInt64($0)) }
        return sector
    }

    /// Creates a dynamic VHD at `path` whose first 64 sectors hold ``demoSector(_:)``.
    static func createDemo(at path: String) throws -> VHDImage {
        let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .dynamic, size: demoSize))
        try image.write((0..<64).flatMap { demoSector($0) }, at: 0)
        try image.flush()
        return image
    }

    /// Opens `path` as a VHD when it carries a VHD footer (at its end or its start), else raw
    /// (BlockStorage's opening by format, with VHD's standard formats).
    static func open(path: String, readOnly: Bool = false) throws(DiskImageError) -> any BlockDevice {
        try openDiskImage(path: path, readOnly: readOnly, among: VHDDiskImageFormat.standardFormats)
    }

    /// Its type and size, and whether it is read-only (`readOnly`, or as `disk` was opened).
    static func describe(_ disk: any BlockDevice, readOnly: Bool? = nil) -> String {
        let mode = readOnly ?? disk.isReadOnly ? ", read-only" : ""
        if let vhd = disk as? VHDImage { return "\(vhd.diskType) VHD, \(disk.capacity) bytes\(mode)" }
        return "raw image, \(disk.capacity) bytes\(mode)"
    }
}
