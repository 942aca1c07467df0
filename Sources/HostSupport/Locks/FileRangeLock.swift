import CHostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Byte-range locks owned by an open file description (`F_OFD_SETLK` / `F_OFD_GETLK`).
///
/// Unlike classic POSIX record locks, these belong to the open file description, not to the
/// process: two `open`s of one file in the same process see each other's locks, a lock goes
/// away when the last descriptor of its description is closed (or its process dies, even by
/// `kill -9`), and closing some other descriptor of the same file does not drop it. Every call
/// is non-blocking.
public enum FileRangeLock {
    /// The kind of a lock: any number of shared locks coexist on a byte; an exclusive lock
    /// excludes every other lock.
    public enum Kind: Sendable, Hashable {
        /// A read lock (`F_RDLCK`).
        case shared
        /// A write lock (`F_WRLCK`); needs a descriptor open for writing.
        case exclusive

        var code: Int32 { self == .shared ? 1 : 2 }
    }

    /// Takes a lock of `kind` on `length` bytes from `offset` (a range beyond the end of the file
    /// is fine; a `length` of 0 runs to the end of the file, however far it grows), replacing any
    /// lock this description holds there.
    ///
    /// - Returns: `false` when another open file description holds a conflicting lock.
    /// - Throws: ``SystemCallError`` for any other failure (`EBADF`, `ENOLCK`, `EINVAL` on a file
    ///   system without such locks).
    @discardableResult
    public static func lock(descriptor: FileDescriptor, offset: UInt64, length: UInt64, kind: Kind)
        throws(SystemCallError) -> Bool
    {
        let result = chost_ofd_lock(descriptor.rawValue, Int64(offset), Int64(length), kind.code)
        if result == 0 { return true }
        let error = Errno(rawValue: -result)
        if error == .resourceTemporarilyUnavailable || error == .permissionDenied { return false }
        throw SystemCallError(operation: "fcntl F_OFD_SETLK", errno: error)
    }

    /// Removes this description's locks on `length` bytes from `offset`.
    public static func unlock(descriptor: FileDescriptor, offset: UInt64, length: UInt64) throws(SystemCallError) {
        let result = chost_ofd_lock(descriptor.rawValue, Int64(offset), Int64(length), 0)
        if result != 0 {
            throw SystemCallError(operation: "fcntl F_OFD_SETLK (unlock)", errno: Errno(rawValue: -result))
        }
    }

    /// The kind of lock another open file description holds that would conflict with a lock of
    /// `kind` on the range, or `nil` when there is none (this description's own locks never
    /// count). Asking with ``Kind/exclusive`` finds any lock at all.
    public static func conflict(descriptor: FileDescriptor, offset: UInt64, length: UInt64, kind: Kind)
        throws(SystemCallError) -> Kind?
    {
        let result = chost_ofd_test(descriptor.rawValue, Int64(offset), Int64(length), kind.code)
        switch result {
        case 0: return nil
        case 1: return .shared
        case 2: return .exclusive
        default: throw SystemCallError(operation: "fcntl F_OFD_GETLK", errno: Errno(rawValue: -result))
        }
    }

    /// The processes holding a lock (of any kind, of any owner type) on the byte at `offset` of
    /// the file with these device and inode numbers, as far as `/proc` shows them: every
    /// descriptor of every process this one may inspect whose file is that one, with the locks
    /// its `fdinfo` lists. Processes of other users are not visible to an unprivileged caller,
    /// so an empty answer means "unknown", not "nobody". Sorted by process id, each process
    /// once.
    ///
    /// Meant for error messages: it reads the whole process table, so call it only after a
    /// conflict was found. `excluding` is a descriptor of this process whose own locks do not
    /// count (the one that found the conflict).
    public static func holders(device: UInt64, inode: UInt64, offset: UInt64, excluding: Int32? = nil)
        -> [FileLockHolder]
    {
        let me = getpid()
        var found: [Int32: FileLockHolder] = [:]
        for pid in directoryEntries("/proc").compactMap({ Int32($0) }) {
            for fd in directoryEntries("/proc/\(pid)/fd") {
                if pid == me, let excluding, Int32(fd) == excluding { continue }
                var info = stat()
                guard stat("/proc/\(pid)/fd/\(fd)", &info) == 0, UInt64(info.st_dev) == device,
                    UInt64(info.st_ino) == inode
                else { continue }
                guard let fdinfo = readSmallFile("/proc/\(pid)/fdinfo/\(fd)"),
                    fdinfo.split(separator: "\n").contains(where: { lockLine($0, covers: offset, inode: inode) })
                else { continue }
                if found[pid] == nil {
                    let command = readSmallFile("/proc/\(pid)/comm").map {
                        String($0.prefix { $0 != "\n" })
                    }
                    found[pid] = FileLockHolder(processID: pid, command: command ?? "")
                }
            }
        }
        return found.keys.sorted().compactMap { found[$0] }
    }

    /// Whether an `fdinfo` line `lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:123 100 101` is a
    /// lock on that inode covering `offset` (the last two fields are the first and last byte,
    /// the last may be `EOF`).
    static func lockLine(_ line: Substring, covers offset: UInt64, inode: UInt64) -> Bool {
        guard line.hasPrefix("lock:") else { return false }
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 3, let first = UInt64(fields[fields.count - 2]) else { return false }
        let lastField = fields[fields.count - 1]
        let last = lastField == "EOF" ? UInt64.max : UInt64(lastField)
        guard let last, first <= offset, offset <= last else { return false }
        // The field before the range is MAJOR:MINOR:INODE.
        guard let inodeField = fields[fields.count - 3].split(separator: ":").last else { return false }
        return UInt64(inodeField) == inode
    }
}

/// A process that holds a lock on a file (``FileRangeLock/holders(device:inode:offset:excluding:)``).
public struct FileLockHolder: Sendable, Hashable, CustomStringConvertible {
    /// Its process id.
    public let processID: Int32
    /// Its command name (`/proc/PID/comm`), empty if unknown.
    public let command: String

    /// A holder with this process id and command name.
    public init(processID: Int32, command: String) {
        self.processID = processID
        self.command = command
    }

    /// Whether it is the calling process.
    public var isCurrentProcess: Bool { processID == getpid() }

    /// `"pid 4711 (qemu-io)"`, or `"this process"` for the caller.
    public var description: String {
        if isCurrentProcess { return "this process" }
        return command.isEmpty ? "pid \(processID)" : "pid \(processID) (\(command))"
    }
}

/// The names in a directory (without `.` and `..`); empty when it cannot be read.
private func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// The first 64 KiB of a (proc) file, or nil when it cannot be read.
private func readSmallFile(_ path: String) -> String? {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    let owned = OwnedDescriptor(rawValue: fd)
    var bytes = [UInt8](repeating: 0, count: 65536)
    let count = bytes.withUnsafeMutableBytes { buffer in
        (try? SystemCall.transferAll(buffer.count, "read", zeroEndsTransfer: true) { done in
            Glibc.read(owned.raw.rawValue, buffer.baseAddress! + done, buffer.count - done)
        }) ?? -1
    }
    guard count >= 0 else { return nil }
    return String(decoding: bytes[..<count], as: UTF8.self)
}
