import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh private temporary directory (`mkdtemp`, mode 0700), removed with everything in it
/// when the value is released: the tests' one place for scratch files.
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates the directory under `$TMPDIR` (or `/tmp`), its name starting with `prefix`.
    public init(prefix: String = "swift-vmm-tests") throws {
        var template = Array((NSTemporaryDirectory() + "/\(prefix).XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        path = String(cString: made)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
