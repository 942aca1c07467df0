import SystemPackage

/// A file descriptor that is closed exactly once, when its owner goes away.
///
/// Non-copyable, so ownership is explicit: the descriptor can be borrowed (``raw``) but never
/// duplicated by copying the owner. A type that owns a descriptor stores one of these and
/// needs no `deinit` of its own.
public struct OwnedDescriptor: ~Copyable, @unchecked Sendable {
    /// The descriptor (borrowed: do not close it).
    public let raw: FileDescriptor

    /// Takes ownership of `raw`; it is closed when this value is destroyed.
    public init(_ raw: FileDescriptor) { self.raw = raw }

    /// Takes ownership of the raw descriptor number `fd`.
    public init(rawValue fd: Int32) { self.raw = FileDescriptor(rawValue: fd) }

    deinit { try? raw.close() }
}
