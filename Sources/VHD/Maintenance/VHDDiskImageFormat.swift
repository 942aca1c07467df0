import BlockStorage

/// The VHD format for BlockStorage's `openDiskImage(path:readOnly:format:among:locking:)`:
/// fixed, dynamic and differencing images, recognised by the footer cookie.
public struct VHDDiskImageFormat: DiskImageFormat {
    /// A VHD opener.
    public init() {}

    /// `"vhd"`.
    public var name: String { "vhd" }

    /// Every format this package reads, in probing order: VHD, then raw (which takes any file).
    public static let standardFormats: [any DiskImageFormat] = [VHDDiskImageFormat(), RawDiskImageFormat()]

    /// Whether the file carries a VHD footer cookie (`conectix`) in its last sector, in its
    /// first (the copy a dynamic image keeps there) or in the last 511 bytes of a file whose
    /// size is one byte short of whole sectors (some tools write a 511-byte footer).
    public func recognizes(_ io: any ImageIO, size: UInt64) throws(BlockDeviceError) -> Bool {
        guard size >= 512 else { return false }
        for offset in [size - 512, 0, size % 512 == 511 ? size - 511 : 0] {
            let bytes = try io.readBytes(at: offset, count: 8)
            if bytes.ascii(0..<8) == VHDFooter.cookie { return true }
        }
        return false
    }

    /// Opens `path` with ``VHDImage/open(path:readOnly:locking:)``. A file that cannot be
    /// opened, read or locked is `DiskImageError.io(path:_:)`; an invalid image is
    /// `DiskImageError.format(name:path:reason:)` with the ``VHDError`` as the reason.
    public func open(path: String, readOnly: Bool, locking: ImageLocking) throws(DiskImageError) -> any BlockDevice {
        do {
            return try VHDImage.open(path: path, readOnly: readOnly, locking: locking)
        } catch {
            if case .device(let failure) = error, case .corrupt = failure {
                throw .format(name: name, path: path, reason: error)
            }
            if case .device(let failure) = error { throw .io(path: path, failure) }
            throw .format(name: name, path: path, reason: error)
        }
    }
}
