import HostSupport
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Open-file-description locks: two opens of one file in one process exclude each other as two
/// processes would (a description's own locks never conflict with it), shared locks coexist and
/// an exclusive one excludes them, an unlock or a close drops them, and `holders` finds the
/// process holding a lock through `/proc`, parsing the lines the kernel writes.
@Suite struct FileRangeLockTests {
    /// A new empty file in its own temporary directory.
    struct ScratchFile {
        let directory: TemporaryDirectory
        var path: String { directory.file("locked") }
        init() throws {
            directory = try TemporaryDirectory()
            try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .closeOnExec], permissions: .ownerReadWrite
            )
            .close()
        }

        func open(writable: Bool = true) throws -> FileDescriptor {
            try FileDescriptor.open(FilePath(path), writable ? .readWrite : .readOnly, options: .closeOnExec)
        }
    }

    @Test func twoOpensInOneProcessExcludeEachOther() throws {
        let file = try ScratchFile()
        let a = try file.open(), b = try file.open()
        defer {
            try? a.close()
            try? b.close()
        }
        #expect(try FileRangeLock.lock(descriptor: a, offset: 100, length: 1, kind: .shared))
        #expect(try FileRangeLock.lock(descriptor: b, offset: 100, length: 1, kind: .shared), "shared locks coexist")
        #expect(
            try !FileRangeLock.lock(descriptor: b, offset: 100, length: 1, kind: .exclusive),
            "the other open's shared lock excludes an exclusive one")
        #expect(try FileRangeLock.conflict(descriptor: b, offset: 100, length: 1, kind: .exclusive) == .shared)
        #expect(
            try FileRangeLock.conflict(descriptor: b, offset: 101, length: 1, kind: .exclusive) == nil,
            "the next byte is free")
        // A's own lock never conflicts with A: it may upgrade while B holds nothing there.
        try FileRangeLock.unlock(descriptor: b, offset: 100, length: 1)
        #expect(try FileRangeLock.conflict(descriptor: a, offset: 100, length: 1, kind: .exclusive) == nil)
        #expect(try FileRangeLock.lock(descriptor: a, offset: 100, length: 1, kind: .exclusive))
        #expect(try FileRangeLock.conflict(descriptor: b, offset: 100, length: 1, kind: .shared) == .exclusive)
        #expect(try !FileRangeLock.lock(descriptor: b, offset: 100, length: 1, kind: .shared))
    }

    @Test func closingTheDescriptionDropsItsLocks() throws {
        let file = try ScratchFile()
        let b = try file.open()
        defer { try? b.close() }
        do {
            let a = try file.open()
            // Far past the end of the (empty) file: allowed.
            #expect(try FileRangeLock.lock(descriptor: a, offset: 1 << 40, length: 8, kind: .exclusive))
            #expect(try FileRangeLock.conflict(descriptor: b, offset: (1 << 40) + 7, length: 1, kind: .shared) != nil)
            try a.close()
        }
        #expect(try FileRangeLock.conflict(descriptor: b, offset: 1 << 40, length: 8, kind: .exclusive) == nil)
        #expect(try FileRangeLock.lock(descriptor: b, offset: 1 << 40, length: 8, kind: .exclusive))
    }

    @Test func anExclusiveLockNeedsAWritableDescriptor() throws {
        let file = try ScratchFile()
        let readOnly = try file.open(writable: false)
        defer { try? readOnly.close() }
        #expect(throws: SystemCallError(operation: "fcntl F_OFD_SETLK", errno: .badFileDescriptor)) {
            try FileRangeLock.lock(descriptor: readOnly, offset: 0, length: 1, kind: .exclusive)
        }
        #expect(try FileRangeLock.lock(descriptor: readOnly, offset: 0, length: 1, kind: .shared))
    }

    @Test func holdersFindsTheProcessHoldingTheByte() throws {
        let file = try ScratchFile()
        let holder = try file.open(), asker = try file.open()
        defer {
            try? holder.close()
            try? asker.close()
        }
        var info = stat()
        #expect(stat(file.path, &info) == 0)
        let (device, inode) = (UInt64(info.st_dev), UInt64(info.st_ino))
        #expect(FileRangeLock.holders(device: device, inode: inode, offset: 201).isEmpty, "nothing locked yet")
        #expect(try FileRangeLock.lock(descriptor: holder, offset: 200, length: 4, kind: .shared))
        #expect(try FileRangeLock.lock(descriptor: asker, offset: 201, length: 1, kind: .shared))
        let found = FileRangeLock.holders(device: device, inode: inode, offset: 201, excluding: asker.rawValue)
        #expect(found.map(\.processID) == [getpid()], "this process, once, though two descriptors hold the byte")
        #expect(found.first?.isCurrentProcess == true && found.first?.description == "this process")
        #expect(FileRangeLock.holders(device: device, inode: inode, offset: 199).isEmpty, "before the range")
        #expect(FileRangeLock.holders(device: device, inode: inode, offset: 204).isEmpty, "after the range")
        // A length of 0 runs to the end of the file, whatever it becomes (`/proc` says `EOF`).
        #expect(try FileRangeLock.lock(descriptor: holder, offset: 500, length: 0, kind: .shared))
        #expect(FileRangeLock.holders(device: device, inode: inode, offset: 1 << 50).map(\.processID) == [getpid()])
        try FileRangeLock.unlock(descriptor: holder, offset: 0, length: 0)
        #expect(
            FileRangeLock.holders(device: device, inode: inode, offset: 201, excluding: asker.rawValue).isEmpty,
            "the asker's own lock does not count")
    }

    @Test func aHolderIsDescribedByItsProcessIDAndCommand() {
        #expect(FileLockHolder(processID: 1, command: "qemu-io").description == "pid 1 (qemu-io)")
        #expect(FileLockHolder(processID: 1, command: "").description == "pid 1")
        #expect(FileLockHolder(processID: getpid(), command: "anything").description == "this process")
    }
}
