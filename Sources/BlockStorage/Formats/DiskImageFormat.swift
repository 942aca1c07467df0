/// A disk image format: how to recognise its files and open them as block devices.
///
/// BlockStorage knows the raw format (``RawDiskImageFormat``); a format target adds its own
/// (VHD's `VHDDiskImageFormat`), and ``openDiskImage(path:readOnly:format:among:locking:)`` opens a file
/// by name or by probing, so a VMM or a disk tool takes any set of formats without knowing any of
/// them.
public protocol DiskImageFormat: Sendable {
    /// The format's name, as a user passes it to `-f` (`"raw"`, `"vhd"`).
    var name: String { get }

    /// Whether the file behind `io` (opened read-only, `size` bytes long) carries this format's
    /// signature. Reads at most a few sectors and never allocates by a size the file states.
    func recognizes(_ io: any ImageIO, size: UInt64) throws(BlockDeviceError) -> Bool

    /// Opens `path` as an image of this format, locked as `locking` says (``ImageLocking``).
    ///
    /// - Throws: ``DiskImageError/format(name:path:reason:)`` when the file is not a valid
    ///   image of this format, ``DiskImageError/io(path:_:)`` when it cannot be read or is in
    ///   use (``BlockDeviceError/locked(_:)``).
    func open(path: String, readOnly: Bool, locking: ImageLocking) throws(DiskImageError) -> any BlockDevice
}

extension DiskImageFormat {
    /// Opens `path` as an image of this format with the default locking
    /// (``ImageLocking/automatic``).
    public func open(path: String, readOnly: Bool) throws(DiskImageError) -> any BlockDevice {
        try open(path: path, readOnly: readOnly, locking: .automatic)
    }
}

/// Why ``openDiskImage(path:readOnly:format:among:locking:)`` could not open a file.
public enum DiskImageError: Error, Sendable, CustomStringConvertible {
    /// The file could not be opened or read.
    case io(path: String, BlockDeviceError)
    /// No format of that name is among those offered.
    case unknownFormat(name: String, known: [String])
    /// No format offered recognises the file (a list without the raw format, which takes any file).
    case unrecognized(path: String, tried: [String])
    /// The format refused the file; `reason` is the format's own error (a `VHDError` for VHD).
    case format(name: String, path: String, reason: any Error & Sendable)

    /// A one-line message naming the file at fault.
    public var description: String {
        switch self {
        case .io(let path, let error): "\(path): \(error)"
        case .unknownFormat(let name, let known):
            "unknown image format '\(name)' (known: \(known.joined(separator: ", ")))"
        case .unrecognized(let path, let tried):
            "\(path): not an image of any of these formats: \(tried.joined(separator: ", "))"
        case .format(let name, let path, let reason): "\(path): not a valid \(name) image: \(reason)"
        }
    }
}

/// The raw format: the file's bytes are the disk's. It recognises every file, so it belongs
/// last in a list of formats to probe.
public struct RawDiskImageFormat: DiskImageFormat {
    /// A raw-format opener whose images start writeback every `writeBehind` bytes written (see
    /// ``FileImageIO``; `nil` for none).
    public init(writeBehind: UInt64? = FileImageIO.defaultWriteBehind) { self.writeBehind = writeBehind }

    /// The write-behind window of the images it opens.
    public let writeBehind: UInt64?

    /// `"raw"`.
    public var name: String { "raw" }

    /// Always `true`: any file can be read as a raw disk.
    public func recognizes(_ io: any ImageIO, size: UInt64) throws(BlockDeviceError) -> Bool { true }

    /// Opens `path` as a ``RawImage``.
    public func open(path: String, readOnly: Bool, locking: ImageLocking) throws(DiskImageError) -> any BlockDevice {
        do {
            return try RawImage(path: path, readOnly: readOnly, writeBehind: writeBehind, locking: locking)
        } catch {
            throw .io(path: path, error)
        }
    }
}

/// Opens `path` as a block device of one of `formats`.
///
/// With `format` set, the format of that name opens the file, whatever its bytes look like
/// (how a user settles an ambiguous file: a raw disk whose guest wrote something that looks
/// like another format's signature). Without it, the formats are probed in order and the first
/// that recognises the file opens it; a file that carries a format's signature but is damaged
/// is reported as that format's error, never read as raw. The probe takes no lock; the image
/// opened is locked as `locking` says.
///
/// - Throws: ``DiskImageError``, naming `path`.
public func openDiskImage(
    path: String, readOnly: Bool = true, format: String? = nil, among formats: [any DiskImageFormat],
    locking: ImageLocking = .automatic
) throws(DiskImageError) -> any BlockDevice {
    if let format {
        guard let chosen = formats.first(where: { $0.name == format }) else {
            throw .unknownFormat(name: format, known: formats.map(\.name))
        }
        return try chosen.open(path: path, readOnly: readOnly, locking: locking)
    }
    var recognized: (any DiskImageFormat)?
    do throws(BlockDeviceError) {
        let io = try FileImageIO(path: path, readOnly: true, locking: .off)
        let size = try io.size()
        for candidate in formats where try candidate.recognizes(io, size: size) {
            recognized = candidate
            break
        }
    } catch {
        throw .io(path: path, error)
    }
    guard let recognized else { throw .unrecognized(path: path, tried: formats.map(\.name)) }
    return try recognized.open(path: path, readOnly: readOnly, locking: locking)
}
