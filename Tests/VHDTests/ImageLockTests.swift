import BlockStorage
import Foundation
import HostSupport
import TestSupport
import Testing

@testable import VHD

#if canImport(Glibc)
    import Glibc
#endif

/// VHD images are locked as QEMU locks them, so that two programs never write one image at
/// once: a differencing disk holds its parents as a reader (they can be read, not written,
/// while it is open); an image another process writes — the `vhd` tool, `qemu-io` — refuses
/// our opens with an error naming that process, and ours refuse theirs; `-U`/`.forceShare`
/// reads it anyway; a killed holder's locks vanish with it.
@Suite struct VHDImageLockTests {
    /// The lock conflict `error` carries, if any.
    static func conflict(in error: any Error) -> ImageLockConflict? {
        switch error {
        case VHDError.device(.locked(let conflict)): conflict
        case DiskImageError.io(_, .locked(let conflict)): conflict
        default: nil
        }
    }

    /// The conflict `body` fails with (records an issue for any other outcome).
    static func conflict(_ body: () throws -> Void) -> ImageLockConflict? {
        do {
            try body()
            Issue.record("succeeded; expected a lock conflict")
        } catch {
            if let conflict = conflict(in: error) { return conflict }
            Issue.record("expected a lock conflict, got \(error)")
        }
        return nil
    }

    /// A dynamic 4 MiB image with `pattern(1 MiB, seed:)` at 1 MiB, closed.
    static func image(_ path: String, seed: UInt64 = 41) throws {
        let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .dynamic, size: 4 << 20))
        try image.write(pattern(1 << 20, seed: seed), at: 1 << 20)
        try image.flush()
    }

    @Test func aParentIsHeldAsAReaderWhileItsChildIsOpen() throws {
        let dir = try TemporaryDirectory()
        let parent = dir.file("parent.vhd")
        try Self.image(parent)
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("child.vhd"), parentPath: parent)
            // The parent cannot be opened for writing …
            let refused = Self.conflict { _ = try VHDImage.open(path: parent) }
            #expect(refused?.path == parent && refused?.permission == .write && refused?.needed == true)
            // … nor resized or compacted, which write it; it can be read, checked and given a
            // second child.
            #expect(Self.conflict { try VHDImage.resize(path: parent, to: 8 << 20) } != nil)
            #expect(Self.conflict { _ = try VHDImage.compact(path: parent) } != nil)
            #expect(
                try VHDImage.open(path: parent, readOnly: true).read(at: 1 << 20, length: 4096)
                    == pattern(4096, seed: 41))
            #expect(try VHDImage.check(path: parent).isClean)
            let sibling = try VHDImage.createDifferencing(path: dir.file("sibling.vhd"), parentPath: parent)
            #expect(try sibling.read(at: 1 << 20, length: 4096) == pattern(4096, seed: 41))
            withExtendedLifetime((child, sibling)) {}
        }
        // Both children closed: the parent is writable again.
        try VHDImage.open(path: parent).write([1], at: 0)
    }

    @Test func aChildIsNotCreatedOverAParentOpenForWriting() throws {
        let dir = try TemporaryDirectory()
        let parent = dir.file("parent.vhd")
        try Self.image(parent)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        let writer = try VHDImage.open(path: parent)
        let refused = Self.conflict {
            _ = try VHDImage.createDifferencing(path: dir.file("child.vhd"), parentPath: parent)
        }
        #expect(refused?.path == parent && refused?.permission == .write && refused?.needed == false)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == before,
            "no child, no temporary file")
        withExtendedLifetime(writer) {}
    }

    @Test func commitNeedsTheChildAndItsParentUnused() throws {
        let dir = try TemporaryDirectory()
        let parent = dir.file("parent.vhd"), childPath = dir.file("child.vhd")
        try Self.image(parent)
        do {
            let child = try VHDImage.createDifferencing(path: childPath, parentPath: parent)
            try child.write(pattern(4096, seed: 42), at: 0)
            try child.flush()
        }
        let bytes = try (readFile(parent), readFile(childPath))
        do {
            let reader = try VHDImage.open(path: childPath, readOnly: true)
            #expect(Self.conflict { _ = try VHDImage.commit(path: childPath) } != nil)
            withExtendedLifetime(reader) {}
        }
        do {
            let reader = try VHDImage.open(path: parent, readOnly: true)
            #expect(Self.conflict { _ = try VHDImage.commit(path: childPath) } != nil)
            withExtendedLifetime(reader) {}
        }
        #expect(try (readFile(parent), readFile(childPath)) == bytes, "a refused commit changes nothing")
        _ = try VHDImage.commit(path: childPath)
        #expect(try VHDImage.open(path: parent, readOnly: true).read(at: 0, length: 4096) == pattern(4096, seed: 42))
    }
}

/// Another process holds an image open: the package's opens and the `vhd` tool's are refused
/// with an error naming it, `-U` reads anyway, QEMU's tools see our locks, and a holder killed
/// with SIGKILL leaves no lock behind.
@Suite(.enabled(if: ToolTests.tool != nil, "vhd executable not found next to the test bundle"))
struct CrossProcessLockTests {
    /// A process that holds an image open while its standard input stays open.
    final class Holder {
        let process = Process()
        let input = Pipe()

        init(_ executable: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var processID: Int32 { process.processIdentifier }

        /// Waits until the holder has locked byte `offset` of `path`. A readiness wait, not a
        /// timing check: the bound only turns a holder that never locks into a failure instead
        /// of a hang (process start-up takes milliseconds; 20 s covers a loaded CI machine).
        func waitForLock(on path: String, offset: UInt64 = 101) throws {
            var info = stat()
            try #require(stat(path, &info) == 0)
            for _ in 0..<1000 {
                let holders = FileRangeLock.holders(
                    device: UInt64(info.st_dev), inode: UInt64(info.st_ino), offset: offset)
                if holders.contains(where: { $0.processID == processID }) { return }
                try #require(
                    process.isRunning, "the holder exited (status \(process.terminationStatus)) before locking")
                usleep(20_000)
            }
            Issue.record("the holder never locked \(path)")
        }

        /// Ends it with SIGKILL (no chance to unlock anything) and reaps it.
        func kill() {
            if process.isRunning { Glibc.kill(processID, SIGKILL) }
            process.waitUntilExit()
        }

        /// Closes its standard input (a clean end for `qemu-io`) and waits for it.
        func finish() throws {
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
        }

        deinit { kill() }
    }

    @Test func anImageTheToolWritesIsRefusedUntilItsHolderDies() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("busy.vhd")
        try VHDImageLockTests.image(path)
        let bytes = try readFile(path)
        // `vhd write` opens the image, then reads the data from its standard input: it holds
        // the image open as a writer for as long as the pipe stays open.
        let holder = try Holder(ToolTests.tool!, ["write", path, "--offset", "0"])
        try holder.waitForLock(on: path)
        let named = "pid \(holder.processID) (vhd)"

        // In this process.
        let refused = VHDImageLockTests.conflict { _ = try VHDImage.open(path: path, readOnly: true) }
        #expect(refused?.holders.map(\.description) == [named])
        #expect(refused?.description == "image is in use: another open of it holds \"write\" (held by \(named))")
        let inspected = try VHDImage.openForInspection(path: path, locking: .forceShare)
        #expect(try inspected.read(at: 1 << 20, length: 4096) == pattern(4096, seed: 41))

        // The tool: a second writer, a reader, a reader with -U.
        let second = try ToolTests.vhd(["write", path, "--offset", "0"], stdin: [1, 2, 3])
        #expect(second.status == 1)
        #expect(second.standardError.contains("vhd: \(path): image is in use"), "\(second.standardError)")
        #expect(second.standardError.contains(named), "\(second.standardError)")
        let info = try ToolTests.vhd(["info", path])
        #expect(info.status == 1)
        #expect(info.standardError.contains("-U (--force-share) reads it anyway"), "\(info.standardError)")
        #expect(try ToolTests.vhd(["info", "-U", path]).status == 0)
        #expect(try ToolTests.vhd(["check", "--force-share", path]).status == 0)
        let json = try ToolTests.vhd(["info", path, "--json"])
        #expect(json.status == 1)
        let document = try ToolTests.json(json)
        let message = (document["error"] as? [String: Any])?["message"] as? String
        #expect(message?.contains(named) == true, "\(document)")

        // QEMU sees the lock as well.
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            let qemu = try runProcess("/usr/bin/env", ["qemu-img", "info", "-f", "vpc", path])
            #expect(qemu.status != 0)
            #expect(qemu.standardError.contains("lock"), "\(qemu.standardError)")
            #expect(try runProcess("/usr/bin/env", ["qemu-img", "info", "-U", "-f", "vpc", path]).status == 0)
        }

        // SIGKILL: no unlock ran, yet the locks went with the process.
        holder.kill()
        let image = try VHDImage.open(path: path)
        #expect(try image.read(at: 1 << 20, length: 4096) == pattern(4096, seed: 41))
        #expect(try readFile(path) == bytes, "every refused command left the image as it was")
    }

    @Test(.enabled(if: ToolCheck.qemuIO, "qemu-io not installed"))
    func anImageQemuIOHoldsIsRefusedAndOursRefuseQemu() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("q.vhd")
        try VHDImageLockTests.image(path)
        let qemuIO = try #require(
            ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/qemu-io" }
                .first { FileManager.default.isExecutableFile(atPath: $0) })
        do {
            // qemu-io without -c reads commands from its standard input, holding the image.
            let holder = try Holder(qemuIO, ["-f", "vpc", path])
            try holder.waitForLock(on: path)
            let refused = VHDImageLockTests.conflict { _ = try VHDImage.open(path: path, readOnly: true) }
            #expect(refused?.holders.map(\.description) == ["pid \(holder.processID) (qemu-io)"])
            #expect(
                try VHDImage.openForInspection(path: path, locking: .forceShare).read(at: 1 << 20, length: 512)
                    == pattern(512, seed: 41))
            let write = try ToolTests.vhd(["write", path, "--offset", "0"], stdin: [1])
            #expect(write.status == 1 && write.standardError.contains("(qemu-io)"), "\(write.standardError)")
            try holder.finish()
        }
        // The other way: while we write it, qemu-io cannot open it; with -U it reads.
        let writer = try VHDImage.open(path: path)
        let qemu = try runProcess(qemuIO, ["-f", "vpc", "-c", "read 0 512", path])
        #expect(qemu.status != 0)
        #expect(
            qemu.standardError.contains("Failed to get") && qemu.standardError.contains("lock"), "\(qemu.standardError)"
        )
        let shared = try runProcess(qemuIO, ["-U", "-r", "-f", "vpc", "-c", "read -P 0 0 512", path])
        #expect(shared.status == 0, "\(shared.standardError)")
        withExtendedLifetime(writer) {}
    }

    @Test func forceShareIsRefusedWhereTheCommandWrites() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("r.vhd")
        try VHDImageLockTests.image(path)
        let result = try ToolTests.vhd(["check", "-U", "--repair", path])
        #expect(result.status == 64, "\(result.standardError)")
        #expect(result.standardError.contains("--repair"), "\(result.standardError)")
    }
}
