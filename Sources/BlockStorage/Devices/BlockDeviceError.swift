import HostSupport
import SystemPackage

/// Errors a ``BlockDevice`` reports from its data path.
public enum BlockDeviceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request reaches past the end of the device.
    case outOfRange(offset: UInt64, length: UInt64, capacity: UInt64)
    /// The device was opened read-only and the request would modify it.
    case readOnly
    /// The operating system rejected an I/O call.
    case io(operation: String, errno: Errno)
    /// The backing image is inconsistent in a way found while serving the request.
    case corrupt(String)
    /// A differencing image was opened without its parent (for inspection) and the request
    /// needs data from beneath it; the message says why the parent is unavailable.
    case parentUnavailable(String)
    /// The image file is in use: another open of it holds a lock this open conflicts with
    /// (see ``ImageLocking``).
    case locked(ImageLockConflict)

    /// The error for a failed host system call (``io(operation:errno:)``).
    public init(_ error: SystemCallError) {
        self = .io(operation: error.operation, errno: error.errno)
    }

    /// A one-line English description of the error, with the offsets, operation or message it carries.
    public var description: String {
        switch self {
        case let .outOfRange(offset, length, capacity):
            return "request of \(length) bytes at offset \(offset) is outside the device (capacity \(capacity) bytes)"
        case .readOnly:
            return "device is read-only"
        case let .io(operation, errno):
            return "\(operation) failed: \(errno)"
        case let .corrupt(message):
            return "image is corrupt: \(message)"
        case let .parentUnavailable(message):
            return "the parent image is unavailable: \(message)"
        case let .locked(conflict):
            return conflict.description
        }
    }
}
