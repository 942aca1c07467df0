import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// How an image file is locked against other users while it is open.
///
/// Locks are QEMU's: open-file-description byte locks (HostSupport's `FileRangeLock`) on the
/// bytes QEMU uses, so this package, `qemu-img`, `qemu-io` and QEMU itself see one another.
/// Each opener declares the permissions it uses and the ones it will not share
/// (``ImagePermissions``): a writer uses reading, writing and resizing and shares neither
/// writing nor resizing; a reader uses reading and shares no writing or resizing either (the
/// disk must not change under it); a ``forceShare`` reader only declares its reading. Any number
/// of readers coexist; a writer excludes readers and writers, and is excluded by them. Locks
/// belong to the open file description, so two opens in one process exclude each other just
/// as two processes do, and they vanish when the file is closed or its process dies.
public enum ImageLocking: String, Sendable, Hashable, Codable, CaseIterable {
    /// A writable open is exclusive, a read-only one shared (the default).
    case automatic
    /// A read-only open that tolerates writers (QEMU's `force-share`, `qemu-img -U`): for
    /// inspecting an image a running VM is writing, knowing the data may be changing. A
    /// writable open with this setting locks as ``automatic`` does: it is exclusive still.
    case forceShare
    /// No lock taken or checked: for file systems without OFD locks, or an embedder that
    /// coordinates access itself.
    case off
}

/// What an open of an image does with it, in QEMU's terms (bit `i` is byte `100 + i` of its
/// lock area when used, byte `200 + i` when not shared).
public struct ImagePermissions: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The raw bits (QEMU's `BLK_PERM_*` values).
    public let rawValue: UInt8
    /// The permissions with these bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Reading data that is consistent (`BLK_PERM_CONSISTENT_READ`).
    public static let read = ImagePermissions(rawValue: 1 << 0)
    /// Changing the data (`BLK_PERM_WRITE`).
    public static let write = ImagePermissions(rawValue: 1 << 1)
    /// Writing data without changing what it reads (`BLK_PERM_WRITE_UNCHANGED`).
    public static let writeUnchanged = ImagePermissions(rawValue: 1 << 2)
    /// Changing the size (`BLK_PERM_RESIZE`).
    public static let resize = ImagePermissions(rawValue: 1 << 3)
    /// Every permission.
    public static let all: ImagePermissions = [.read, .write, .writeUnchanged, .resize]

    static let names: [(ImagePermissions, String)] = [
        (.read, "consistent read"), (.write, "write"), (.writeUnchanged, "write unchanged"), (.resize, "resize"),
    ]

    /// The permissions' names as QEMU prints them, joined with `, ` (`"write, resize"`).
    public var description: String {
        Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ", ")
    }

    /// The single permissions this set holds, lowest bit first.
    var bits: [(index: UInt64, permission: ImagePermissions)] {
        (0..<4).compactMap { i in
            contains(ImagePermissions(rawValue: 1 << i)) ? (UInt64(i), .init(rawValue: 1 << i)) : nil
        }
    }
}

/// Why an image could not be locked: another open of the file uses a permission this one
/// will not share, or will not share one this one uses.
public struct ImageLockConflict: Error, Sendable, Hashable, CustomStringConvertible {
    /// The image file.
    public let path: String
    /// The permission in dispute.
    public let permission: ImagePermissions
    /// `true` when this open needs ``permission`` and another open does not share it; `false`
    /// when this open will not share it and another open is using it.
    public let needed: Bool
    /// The processes holding the other lock, as far as `/proc` shows them (empty: unknown,
    /// for instance a process of another user).
    public let holders: [FileLockHolder]

    /// A conflict over `permission` on the file at `path`.
    public init(path: String, permission: ImagePermissions, needed: Bool, holders: [FileLockHolder]) {
        self.path = path
        self.permission = permission
        self.needed = needed
        self.holders = holders
    }

    /// `image is in use: another open of it does not share "write" (held by pid 4711 (qemu-io))`.
    public var description: String {
        let what =
            needed
            ? "another open of it does not share \"\(permission)\""
            : "another open of it holds \"\(permission)\""
        let who =
            holders.isEmpty
            ? "holder unknown" : "held by " + holders.map(\.description).joined(separator: ", ")
        return "image is in use: \(what) (\(who))"
    }
}

/// The permissions an open of an image takes and refuses to share.
package struct ImageLockRequest: Sendable, Equatable {
    /// The permissions used (their bytes at 100 + bit are locked shared).
    package var used: ImagePermissions
    /// The permissions not shared (their bytes at 200 + bit are locked shared).
    package var unshared: ImagePermissions

    /// First byte of the "used" area.
    static let usedBase: UInt64 = 100
    /// First byte of the "not shared" area.
    static let unsharedBase: UInt64 = 200

    /// What an open with this access and setting locks; nil for ``ImageLocking/off``.
    package init?(readOnly: Bool, locking: ImageLocking) {
        switch (locking, readOnly) {
        case (.off, _): return nil
        case (_, false): self.init(used: [.read, .write, .resize], unshared: [.write, .resize])
        case (.automatic, true): self.init(used: .read, unshared: [.write, .resize])
        case (.forceShare, true): self.init(used: .read, unshared: [])
        }
    }

    package init(used: ImagePermissions, unshared: ImagePermissions) {
        self.used = used
        self.unshared = unshared
    }

    /// Locks the bytes on `descriptor` (which may be read-only: every lock is a read lock),
    /// then looks for another open that does not share a permission used here, or uses one not
    /// shared here — QEMU's order, so that of two opens racing at least one sees the other.
    /// On a conflict the caller closes the descriptor, which drops its locks.
    ///
    /// - Throws: ``BlockDeviceError/locked(_:)`` on a conflict, ``BlockDeviceError/io(operation:errno:)``
    ///   when the file system refuses the lock calls.
    package func apply(to descriptor: FileDescriptor, path: String) throws(BlockDeviceError) {
        // A conflict is confirmed over a short while before it is reported. A lock outlives the
        // close of its descriptor while a child process this process is forking still holds a
        // copy of the descriptor table (until its exec closes the close-on-exec descriptors):
        // an image closed and reopened at once, while another thread starts a process, can meet
        // its own old lock for a moment. 20 looks 5 ms apart cover that window many times over;
        // a real holder is still reported, 0.1 s later.
        var attempt = 0
        while true {
            do {
                return try applyOnce(to: descriptor, path: path)
            } catch {
                guard case .locked = error, attempt < 19 else { throw error }
                attempt += 1
                usleep(5000)
            }
        }
    }

    /// One try of ``apply(to:path:)``.
    private func applyOnce(to descriptor: FileDescriptor, path: String) throws(BlockDeviceError) {
        func call<T>(_ body: () throws(SystemCallError) -> T) throws(BlockDeviceError) -> T {
            do { return try body() } catch { throw BlockDeviceError(error) }
        }
        // A byte someone holds an exclusive (write) lock on cannot be locked at all: a
        // conflict too (a tool that locks the whole file exclusively).
        let taken =
            used.bits.map { (Self.usedBase + $0.index, $0.permission, true) }
            + unshared.bits.map { (Self.unsharedBase + $0.index, $0.permission, false) }
        for (offset, permission, needed) in taken {
            let locked = try call { () throws(SystemCallError) in
                try FileRangeLock.lock(descriptor: descriptor, offset: offset, length: 1, kind: .shared)
            }
            if !locked { throw .locked(conflict(descriptor, path, permission, needed: needed, offset: offset)) }
        }
        // Used here, not shared there; then not shared here, used there.
        let checks =
            used.bits.map { (Self.unsharedBase + $0.index, $0.permission, true) }
            + unshared.bits.map { (Self.usedBase + $0.index, $0.permission, false) }
        for (offset, permission, needed) in checks {
            let other = try call { () throws(SystemCallError) in
                try FileRangeLock.conflict(descriptor: descriptor, offset: offset, length: 1, kind: .exclusive)
            }
            if other != nil {
                throw .locked(conflict(descriptor, path, permission, needed: needed, offset: offset))
            }
        }
    }

    private func conflict(
        _ descriptor: FileDescriptor, _ path: String, _ permission: ImagePermissions, needed: Bool, offset: UInt64
    ) -> ImageLockConflict {
        var info = stat()
        let holders =
            fstat(descriptor.rawValue, &info) == 0
            ? FileRangeLock.holders(
                device: UInt64(info.st_dev), inode: UInt64(info.st_ino), offset: offset,
                excluding: descriptor.rawValue) : []
        return ImageLockConflict(path: path, permission: permission, needed: needed, holders: holders)
    }
}
