import CHostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

extension SystemCall {
    /// Puts `descriptor` in non-blocking mode (`O_NONBLOCK`, on the open file description: every
    /// duplicate of it shares the mode).
    ///
    /// - Throws: ``SystemCallError`` named `fcntl`.
    public static func setNonBlocking(_ descriptor: FileDescriptor) throws(SystemCallError) {
        let flags = try retrying("fcntl") { fcntl(descriptor.rawValue, F_GETFL) }
        if flags & O_NONBLOCK == 0 {
            try retrying("fcntl") { fcntl(descriptor.rawValue, F_SETFL, flags | O_NONBLOCK) }
        }
    }

    /// One `read(2)` from a non-blocking descriptor: the bytes read (0 at the end of input), or
    /// `nil` when nothing is there now (`EAGAIN`).
    ///
    /// - Throws: ``SystemCallError`` named `name` for any other failure.
    public static func readSome(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, _ name: @autoclosure () -> String
    ) throws(SystemCallError) -> Int? {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        do {
            return try retrying(name()) { Glibc.read(descriptor.rawValue, base, buffer.count) }
        } catch  where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
    }

    /// One `write(2)` to a non-blocking descriptor: the bytes written, or `nil` when it takes
    /// none now (`EAGAIN`). A reader that went away is the error `EPIPE`, never a `SIGPIPE`
    /// (the signal is blocked in the calling thread for the call and taken back).
    ///
    /// - Throws: ``SystemCallError`` named `name` for any other failure.
    public static func writeSome(
        _ descriptor: FileDescriptor, _ bytes: UnsafeRawBufferPointer, _ name: @autoclosure () -> String
    ) throws(SystemCallError) -> Int? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        let n = chost_write_nosigpipe(descriptor.rawValue, base, UInt(bytes.count))
        if n >= 0 { return n }
        let error = Errno(rawValue: Int32(-n))
        if error == .resourceTemporarilyUnavailable { return nil }
        throw SystemCallError(operation: name(), errno: error)
    }
}
