import CHostSupport
import SystemPackage

/// The host kernel's random number generator (`getrandom(2)` without flags: it blocks only
/// until the kernel's pool is first initialised, early in boot, and never after).
public enum HostEntropy {
    /// Fills all of `buffer` with random bytes (short and interrupted calls are continued).
    ///
    /// - Throws: ``SystemCallError`` named `getrandom` when the kernel refuses (`EFAULT` for an
    ///   unmapped buffer, `ENOSYS` on a kernel without the call); the buffer may be partly filled.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = chost_getrandom(base + done, UInt(buffer.count - done))
            if n < 0 {
                if -n == Errno.interrupted.rawValue { continue }
                throw SystemCallError(operation: "getrandom", errno: Errno(rawValue: Int32(-n)))
            }
            done += n
        }
    }
}
