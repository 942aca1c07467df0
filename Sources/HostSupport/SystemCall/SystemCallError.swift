import SystemPackage

/// A system call that failed: which one, and the `errno` it set.
///
/// The one error of the host-support layer. Each target's own typed error wraps it (for
/// example `KVMError.systemCall(operation:errno:)` or `BlockDeviceError.io(operation:errno:)`),
/// so a caller sees the operation's name and swift-system's `Errno` whatever layer failed.
public struct SystemCallError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The system call or operation that failed (`"ioctl KVM_RUN"`, `"preadv"`, `"eventfd"` …).
    public var operation: String
    /// What the kernel answered.
    public var errno: Errno

    /// A failure of `operation` with `errno`.
    public init(operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    /// The operation and the error, as `"operation: errno"`.
    public var description: String { "\(operation): \(errno)" }
}
