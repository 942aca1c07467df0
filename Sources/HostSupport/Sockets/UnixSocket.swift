import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Unix-domain stream sockets, as a VMM's host side uses them (a console, vsock's host end):
/// listening at a path, connecting to one, accepting without blocking. Every descriptor is
/// close-on-exec and owned by what is returned.
public enum UnixSocket {
    /// The longest path a Unix socket address holds (`sun_path` less its terminating NUL).
    public static let maximumPathLength = 107

    /// A socket listening at `path`, non-blocking (``accept(_:)`` returns `nil` when no one
    /// waits). A socket file left at `path` by a process that died is replaced; any other file
    /// there is refused (never removed).
    ///
    /// - Throws: ``SystemCallError``: `ENAMETOOLONG` for a path longer than
    ///   ``maximumPathLength``, `EEXIST` for a file there that is not a socket, or the failing
    ///   call (`socket`, `bind`, `listen`), naming the path.
    public static func listen(at path: String, backlog: Int32 = 128) throws(SystemCallError) -> OwnedDescriptor {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw SystemCallError(
                    operation: "listen at \(path): a file that is not a socket is there", errno: .fileExists)
            }
            unlink(path)
        }
        let socket = try stream("listen at \(path)")
        try withAddress(path, "bind \(path)") { address, length in bind(socket.raw.rawValue, address, length) }
        try SystemCall.retrying("listen \(path)") { Glibc.listen(socket.raw.rawValue, backlog) }
        try SystemCall.setNonBlocking(socket.raw)
        return socket
    }

    /// A socket connected to the listener at `path`, then non-blocking.
    ///
    /// - Throws: ``SystemCallError`` naming the path: `ENOENT` (nothing there), `ECONNREFUSED`
    ///   (no one listens), `EAGAIN` (the listener's backlog is full), `ENAMETOOLONG`.
    public static func connect(to path: String) throws(SystemCallError) -> OwnedDescriptor {
        let socket = try stream("connect to \(path)")
        // Non-blocking before connecting: a full backlog is EAGAIN, not a wait.
        try SystemCall.setNonBlocking(socket.raw)
        try withAddress(path, "connect to \(path)") { address, length in
            Glibc.connect(socket.raw.rawValue, address, length)
        }
        return socket
    }

    /// The next connection waiting on `listener` (non-blocking, close-on-exec), or `nil` when
    /// none waits.
    ///
    /// - Throws: ``SystemCallError`` named `accept` for a failure other than `EAGAIN`
    ///   (`EMFILE`: out of descriptors).
    public static func accept(_ listener: FileDescriptor) throws(SystemCallError) -> OwnedDescriptor? {
        let fd: Int32
        do {
            fd = try SystemCall.retrying("accept") { Glibc.accept(listener.rawValue, nil, nil) }
        } catch  where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
        let owned = OwnedDescriptor(rawValue: fd)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        try SystemCall.setNonBlocking(owned.raw)
        return owned
    }

    /// One `send(2)` on a connected, non-blocking socket with `MSG_NOSIGNAL`: the bytes sent, or
    /// `nil` when it takes none now (`EAGAIN`). A peer that went away is the error `EPIPE`,
    /// never a `SIGPIPE` — in one system call, where ``SystemCall/writeSome(_:_:_:)`` (for any
    /// descriptor) needs three more to keep the signal away.
    ///
    /// - Throws: ``SystemCallError`` named `name` for any other failure (`EPIPE`, `ECONNRESET`).
    public static func sendSome(
        _ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer, _ name: @autoclosure () -> String
    ) throws(SystemCallError) -> Int? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        do {
            return try SystemCall.retrying(name()) {
                Glibc.send(socket.rawValue, base, bytes.count, Int32(MSG_NOSIGNAL))
            }
        } catch  where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
    }

    /// Shuts down the writing side of a connected socket (`shutdown(SHUT_WR)`): its peer reads
    /// end-of-file after what was written, and may still write back.
    ///
    /// - Throws: ``SystemCallError`` named `shutdown` (`ENOTCONN` when the peer is gone).
    public static func shutdownWriting(_ socket: FileDescriptor) throws(SystemCallError) {
        try SystemCall.retrying("shutdown") { Glibc.shutdown(socket.rawValue, Int32(SHUT_WR)) }
    }

    private static func stream(_ what: String) throws(SystemCallError) -> OwnedDescriptor {
        let fd = try SystemCall.retrying(what) {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        return OwnedDescriptor(rawValue: fd)
    }

    private static func withAddress(
        _ path: String, _ what: String, _ call: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws(SystemCallError) {
        let bytes = Array(path.utf8)
        guard bytes.count <= maximumPathLength else {
            throw SystemCallError(operation: "\(what): path too long", errno: .fileNameTooLong)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        _ = try withUnsafePointer(to: &address) { (pointer) throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SystemCallError) in
                try SystemCall.retrying(what) { call(address, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
    }
}
