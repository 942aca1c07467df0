import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The package's one way to issue a system call: retry on `EINTR`, and turn any other failure
/// into a ``SystemCallError`` that names the call.
///
/// Every target's system calls go through these helpers, so a signal (a vCPU kick, a profiler)
/// never surfaces as a spurious failure and no target writes its own retry loop.
public enum SystemCall {
    /// The calling thread's current `errno`.
    @inlinable
    public static var errno: Errno { Errno(rawValue: Glibc.errno) }

    /// Calls `call` until it returns something other than −1 with `EINTR`.
    ///
    /// - Parameters:
    ///   - name: the operation, for the error (evaluated only on failure).
    ///   - call: a system call that returns a negative value and sets `errno` on failure.
    /// - Returns: the call's non-negative result.
    /// - Throws: ``SystemCallError`` with `name` and the `errno` of any failure but `EINTR`.
    @inlinable
    @inline(__always)
    @discardableResult
    public static func retrying<Result: SignedInteger>(
        _ name: @autoclosure () -> String, _ call: () -> Result
    ) throws(SystemCallError) -> Result {
        while true {
            let result = call()
            if result >= 0 { return result }
            let error = Errno(rawValue: Glibc.errno)
            if error != .interrupted { throw SystemCallError(operation: name(), errno: error) }
        }
    }

    /// Reads the 8-byte counter of an eventfd or a timerfd (which resets it); `nil` when there is
    /// nothing to read on a non-blocking descriptor (`EAGAIN`).
    ///
    /// - Throws: ``SystemCallError`` named `name` for any other failure.
    public static func readCounter(_ descriptor: FileDescriptor, _ name: @autoclosure () -> String)
        throws(SystemCallError) -> UInt64?
    {
        var value: UInt64 = 0
        do {
            try retrying(name()) { Glibc.read(descriptor.rawValue, &value, 8) }
            return value
        } catch  where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
    }

    /// Repeats a partial transfer (`read`, `pwrite` …) until `count` bytes are done.
    ///
    /// `call(done)` transfers from byte `done` on and returns the bytes it moved (or −1 with
    /// `errno`). A zero return ends the transfer early when `zeroEndsTransfer` (end of file on a
    /// read) and is an `EIO` failure otherwise (a write that makes no progress).
    ///
    /// - Returns: the bytes transferred (less than `count` only after an end of file).
    @inlinable
    public static func transferAll(
        _ count: Int, _ name: @autoclosure () -> String, zeroEndsTransfer: Bool, _ call: (Int) -> Int
    ) throws(SystemCallError) -> Int {
        var done = 0
        while done < count {
            let n = try retrying(name()) { call(done) }
            if n == 0 {
                if zeroEndsTransfer { break }
                throw SystemCallError(operation: name(), errno: .ioError)
            }
            done += n
        }
        return done
    }
}
