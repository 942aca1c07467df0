import Foundation
import KVM
import KVMTestSupport
import Testing
import VHD

/// Which external tools are installed.
enum ToolCheck {
    static let qemuImg: Bool = ["/usr/bin", "/bin", "/usr/local/bin"].contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/qemu-img")
    }
}

/// Runs a process; returns its exit status and standard output.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// mini-vmm end to end: the built executable run as a process on real KVM.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct MiniVMMTests {
    /// The `mini-vmm` executable next to the test bundle.
    static let tool: String? = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mini-vmm").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    /// What the guest writes to sector 8: bytes `i ^ 0x5a`, with its message over the start.
    static let writtenSector: [UInt8] = {
        var sector = (0..<512).map { UInt8(truncatingIfNeeded: $0) ^ 0x5a }
        let message = Array("written by the mini-vmm guest".utf8)
        sector.replaceSubrange(0..<message.count, with: message)
        return sector
    }()

    static func miniVMM(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProcess(try #require(tool, "mini-vmm executable not found next to the test bundle"), arguments)
    }

    static func expectGuestSucceeded(_ run: (status: Int32, output: String), sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0, "\(run.output)", sourceLocation: sourceLocation)
        for line in [
            "features negotiated: VERSION_1 (+FLUSH)", "wrote sector 8 and read it back", "flushed", "mini-vmm guest: success",
            "result: SUCCESS", "disk requests served: 4 (read 2, write 1, flush 1), failed 0",
        ] {
            #expect(run.output.contains(line), "missing \"\(line)\" in:\n\(run.output)", sourceLocation: sourceLocation)
        }
    }

    @Test func demoRunWithoutArguments() throws {
        let run = try Self.miniVMM([])
        Self.expectGuestSucceeded(run)
        #expect(run.output.contains("new demo disk: dynamic VHD"))
        #expect(run.output.contains("workers: 1 vCPU(s) reported correct results"))
    }

    /// Runs mini-vmm on a new 1 MiB disk of `kind` (3 vCPUs); returns the directory, the disk's
    /// path and the contents it must have afterwards.
    static func runOnDisk(_ kind: DiskKind) throws -> (TemporaryDirectory, String, [UInt8]) {
        let directory = try TemporaryDirectory()
        let size = 1 << 20
        _ = try makeDisk(kind, in: directory, size: UInt64(size))
        let path = directory.file("disk-\(kind.rawValue)")
        let run = try miniVMM(["--disk", path, "--vcpus", "3"])
        expectGuestSucceeded(run)
        #expect(run.output.contains("workers: 2 vCPU(s) reported correct results"))
        #expect(run.output.contains("capacity (sectors): 0x00000800"))
        var expected = pattern(offset: 0, count: size)
        expected.replaceSubrange(8 * 512..<9 * 512, with: writtenSector)
        return (directory, path, expected)
    }

    @Test(arguments: [DiskKind.raw, .fixed, .dynamic]) func givenDiskIsReadAndWritten(_ kind: DiskKind) throws {
        let (directory, path, expected) = try Self.runOnDisk(kind)
        try withExtendedLifetime(directory) {
            // Through the VHD library: sector 8 written, everything else as before.
            let disk: any BlockDevice =
                kind == .raw ? try RawImage(path: path, readOnly: true) : try VHDImage.open(path: path, readOnly: true)
            #expect(try disk.read(at: 0, length: expected.count) == expected)
        }
    }

    @Test(.enabled(if: ToolCheck.qemuImg, "qemu-img not installed"), arguments: [DiskKind.fixed, .dynamic])
    func qemuImgSeesTheGuestsWrite(_ kind: DiskKind) throws {
        let (directory, path, expected) = try Self.runOnDisk(kind)
        let reference = directory.file("expected.raw")
        #expect(FileManager.default.createFile(atPath: reference, contents: Data(expected)))
        let compare = try runProcess("/usr/bin/env", ["qemu-img", "compare", "-f", "vpc", "-F", "raw", path, reference])
        #expect(compare.status == 0, "\(compare.output)")
        let converted = directory.file("converted.raw")
        let convert = try runProcess("/usr/bin/env", ["qemu-img", "convert", "-f", "vpc", "-O", "raw", path, converted])
        #expect(convert.status == 0, "\(convert.output)")
        #expect(FileManager.default.contents(atPath: converted) == Data(expected))
    }

    /// A differencing disk: mini-vmm, then the child read through the VHD library and the
    /// parent file compared byte for byte.
    static func runOnDifferencing() throws -> (TemporaryDirectory, parent: String, size: Int) {
        let directory = try TemporaryDirectory()
        let size = 1 << 20
        _ = try makeDisk(.differencing, in: directory, size: UInt64(size))
        let childPath = directory.file("disk-differencing")
        let parentPath = directory.file("parent.vhd")
        let parentBefore = try #require(FileManager.default.contents(atPath: parentPath))

        let run = try miniVMM(["--disk", childPath])
        expectGuestSucceeded(run)
        #expect(run.output.contains("differencing VHD"))

        #expect(FileManager.default.contents(atPath: parentPath) == parentBefore, "the parent file is byte-for-byte unchanged")
        var expected = pattern(offset: 0, count: size)
        expected.replaceSubrange(8 * 512..<9 * 512, with: writtenSector)
        let child = try VHDImage.open(path: childPath, readOnly: true)
        #expect(try child.read(at: 0, length: size) == expected)
        return (directory, parentPath, size)
    }

    @Test func differencingDiskLeavesItsParentUnchanged() throws {
        _ = try Self.runOnDifferencing()
    }

    @Test(.enabled(if: ToolCheck.qemuImg, "qemu-img not installed"))
    func qemuImgSeesTheDifferencingParentUnchanged() throws {
        // qemu-img reads the parent correctly; it cannot follow a differencing chain.
        let (directory, parentPath, size) = try Self.runOnDifferencing()
        let reference = directory.file("original.raw")
        #expect(FileManager.default.createFile(atPath: reference, contents: Data(pattern(offset: 0, count: size))))
        let compare = try runProcess("/usr/bin/env", ["qemu-img", "compare", "-f", "vpc", "-F", "raw", parentPath, reference])
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test func aGuestFailureGivesANonZeroExitStatus() throws {
        // Read-only: the device offers VIRTIO_BLK_F_RO and fails the guest's write (step 5).
        let directory = try TemporaryDirectory()
        _ = try makeDisk(.dynamic, in: directory)
        let path = directory.file("disk-dynamic")
        let before = try #require(FileManager.default.contents(atPath: path))
        let run = try Self.miniVMM(["--disk", path, "--read-only"])
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("mini-vmm guest: FAILED at step 0x00000005"))
        #expect(run.output.contains("result: FAILURE: guest reported failure at step 5"))
        #expect(FileManager.default.contents(atPath: path) == before)
    }

    @Test func aDiskTooSmallIsRefused() throws {
        let directory = try TemporaryDirectory()
        let tiny = directory.file("tiny.raw")
        #expect(FileManager.default.createFile(atPath: tiny, contents: Data(count: 1024)))
        let refused = try Self.miniVMM(["--disk", tiny])
        #expect(refused.status != 0)
        #expect(refused.output.contains("at least 9 sectors"))
    }
}
