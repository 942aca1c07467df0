import CHostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Linux namespaces, as far as a VMM's threads need them: entering the network namespace that a
/// path names (`/var/run/netns/NAME`, what `ip netns add NAME` creates) on the calling thread —
/// to open a TAP interface there, for instance — while the process's other threads stay where
/// they are.
public enum Namespace {
    /// `CLONE_NEWNET`.
    static let network: Int32 = 0x4000_0000

    /// Moves the calling thread into the network namespace at `path`. Run it on a thread of its
    /// own: the thread does not come back.
    ///
    /// - Throws: ``SystemCallError`` naming the path: `ENOENT` (no such namespace), `EPERM`
    ///   (no `CAP_SYS_ADMIN`), `EINVAL` (not a network namespace).
    public static func enterNetworkNamespace(at path: String) throws(SystemCallError) {
        let fd = try SystemCall.retrying("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        let result = chost_setns(fd, network)
        if result < 0 { throw SystemCallError(operation: "setns \(path)", errno: Errno(rawValue: -result)) }
    }
}
