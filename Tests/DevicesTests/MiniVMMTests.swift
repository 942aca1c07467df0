import BlockStorage
import Foundation
import KVM
import Synchronization
import TestSupport
import Testing
import VHD

/// Which external tools are installed.
enum ToolCheck {
    static let qemuImg: Bool = ["/usr/bin", "/bin", "/usr/local/bin"].contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/qemu-img")
    }
}

/// Whether a process has been waited for (so that its watchdog leaves it alone).
final class ProcessEnded: Sendable {
    let value = Atomic<Bool>(false)
}

/// Runs a process; returns its exit status and standard output. One still running after 300 s
/// is killed (status 9, from the signal), so that a hang fails a test instead of stopping the
/// suite.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProcess(executable, arguments, timeoutSeconds: 300)
}

/// ``runProcess(_:_:)`` with the time after which the process is killed.
func runProcess(_ executable: String, _ arguments: [String], timeoutSeconds: Double) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let pid = process.processIdentifier
    let ended = ProcessEnded()
    DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds) {
        if !ended.value.load(ordering: .acquiring) { kill(pid, SIGKILL) }
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    ended.value.store(true, ordering: .releasing)
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// mini-vmm end to end: the built executable run as a process on real KVM.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct MiniVMMTests {
    /// The `mini-vmm` executable next to the test bundle.
    static let tool: String? = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
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

    static func miniVMM(_ arguments: [String], timeoutSeconds: Double = 300) throws -> (status: Int32, output: String) {
        try runProcess(
            try #require(tool, "mini-vmm executable not found next to the test bundle"), arguments,
            timeoutSeconds: timeoutSeconds)
    }

    static func expectGuestSucceeded(
        _ run: (status: Int32, output: String), sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(run.status == 0, "\(run.output)", sourceLocation: sourceLocation)
        for line in [
            "features negotiated: VERSION_1 (+FLUSH)", "wrote sector 8 and read it back", "flushed",
            "mini-vmm guest: success",
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

    /// The channels demo: the guest's narration on the virtio console (the VMM's standard
    /// output), and the host side's view of the vsock stream, both whole.
    @Test func channelsDemoTalksOverTheConsoleAndVsock() throws {
        let run = try Self.miniVMM(["--channels"])
        #expect(run.status == 0, "\(run.output)")
        for line in [
            "vsock guest: connecting to host port 5000", "vsock guest: connected, sending a message",
            "host: received over vsock: hello over vsock", "vsock guest: the host replied: hello from the host",
            "host: received over vsock: echo: hello from the host (then the end of the stream)",
            "vsock guest: stream closed", "channels: guest reported 0",
            "vsock 1 connection(s), 43 bytes from the guest, 20 to it", "channels: virtio-console and vsock worked",
        ] {
            #expect(run.output.contains(line), "missing \"\(line)\" in:\n\(run.output)")
        }
    }

    @Test func channelsWithADiskIsAUsageError() throws {
        let run = try Self.miniVMM(["--channels", "--vcpus", "2"])
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("--channels runs its own one-vCPU guest"), "\(run.output)")
    }

    /// Runs mini-vmm on a new 1 MiB disk of `kind` with `vcpus` vCPUs and `arguments`; returns
    /// the directory, the disk's path, the contents it must have afterwards and the output.
    static func runOnDisk(
        _ kind: DiskKind, vcpus: Int = 3, arguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (TemporaryDirectory, String, [UInt8], output: String) {
        let directory = try TemporaryDirectory()
        let size = 1 << 20
        _ = try makeDisk(kind, in: directory, size: UInt64(size))
        let path = directory.file("disk-\(kind.rawValue)")
        let run = try miniVMM(["--disk", path, "--vcpus", String(vcpus)] + arguments)
        expectGuestSucceeded(run, sourceLocation: sourceLocation)
        #expect(
            run.output.contains("workers: \(vcpus - 1) vCPU(s) reported correct results"), "\(run.output)",
            sourceLocation: sourceLocation)
        #expect(run.output.contains("capacity (sectors): 0x00000800"), sourceLocation: sourceLocation)
        var expected = pattern(offset: 0, count: size)
        expected.replaceSubrange(8 * 512..<9 * 512, with: writtenSector)
        return (directory, path, expected, run.output)
    }

    /// Checks a disk's contents through the VHD library.
    static func expectDisk(
        _ kind: DiskKind, at path: String, contains expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let disk: any BlockDevice =
            kind == .raw ? try RawImage(path: path, readOnly: true) : try VHDImage.open(path: path, readOnly: true)
        #expect(try disk.read(at: 0, length: expected.count) == expected, sourceLocation: sourceLocation)
    }

    /// The dispatcher's rows of the final table: slices and preemptions by vCPU index.
    static func dispatcherRows(_ output: String) throws -> [Int: (slices: UInt64, preemptions: UInt64)] {
        let lines = output.split(separator: "\n")
        let header = try #require(
            lines.firstIndex { $0.hasPrefix("vCPU  T_cpu ") }, "no dispatcher table in:\n\(output)")
        var rows: [Int: (slices: UInt64, preemptions: UInt64)] = [:]
        for line in lines[(header + 1)...] {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let index = Int(fields[0]), let slices = UInt64(fields[fields.count - 2]),
                let preemptions = UInt64(fields[fields.count - 1])
            else { break }
            rows[index] = (slices, preemptions)
        }
        return rows
    }

    @Test(arguments: [DiskKind.raw, .fixed, .dynamic]) func givenDiskIsReadAndWritten(_ kind: DiskKind) throws {
        let (directory, path, expected, _) = try Self.runOnDisk(kind)
        // Through the VHD library: sector 8 written, everything else as before.
        try withExtendedLifetime(directory) { try Self.expectDisk(kind, at: path, contains: expected) }
    }

    @Test(
        "the disk is read and written whichever way its queue is served",
        arguments: ["polling", "loop", "inline"])
    func everyDeviceServiceDrivesTheDisk(_ mode: String) throws {
        let (directory, path, expected, output) = try Self.runOnDisk(.dynamic, arguments: ["--device-service", mode])
        try withExtendedLifetime(directory) { try Self.expectDisk(.dynamic, at: path, contains: expected) }
        #expect(output.contains("disk requests served: 4 (read 2, write 1, flush 1), failed 0; 4 chains"), "\(output)")
    }

    @Test func anUnknownDeviceServiceIsAUsageError() throws {
        let run = try Self.miniVMM(["--device-service", "threads"])
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("--device-service"), "\(run.output)")
    }

    @Test(
        "the demo succeeds with its 3 vCPUs on 1 dispatcher slot",
        arguments: ["round-robin", "priority", "fair", "capped", "rt"])
    func demoUnderAPolicyOnOneSlot(_ policy: String) throws {
        let (directory, path, expected, output) = try Self.runOnDisk(
            .dynamic, arguments: ["--policy", policy, "--slots", "1"])
        try withExtendedLifetime(directory) { try Self.expectDisk(.dynamic, at: path, contains: expected) }
        #expect(output.contains("vCPUs scheduled by \(policy) ("))
        #expect(output.contains(" on 1 slot(s) for "), "\(output)")
        // Every vCPU got slices; with one slot for three, slices ended by preemption.
        let rows = try Self.dispatcherRows(output)
        #expect(rows.keys.sorted() == [0, 1, 2], "\(output)")
        for (index, row) in rows {
            #expect(row.slices > 0, "vCPU \(index) got no slice:\n\(output)")
        }
        #expect(rows.values.contains { $0.preemptions > 0 }, "\(output)")
    }

    @Test(.enabled(if: ToolCheck.qemuImg, "qemu-img not installed"))
    func qemuImgSeesTheWriteOfAGuestOnTwoSlotsForFourVCPUs() throws {
        let (directory, path, expected, output) = try Self.runOnDisk(
            .dynamic, vcpus: 4, arguments: ["--policy", "fair", "--slots", "2"])
        #expect(output.contains(" on 2 slot(s) for "), "\(output)")
        let rows = try Self.dispatcherRows(output)
        #expect(rows.keys.sorted() == [0, 1, 2, 3] && rows.values.allSatisfy { $0.slices > 0 }, "\(output)")
        let reference = directory.file("expected.raw")
        #expect(FileManager.default.createFile(atPath: reference, contents: Data(expected)))
        let compare = try runProcess(
            "/usr/bin/env", ["qemu-img", "compare", "-f", "vpc", "-F", "raw", path, reference])
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test func schedulerOptionsNeedAPolicy() throws {
        let refused = try Self.miniVMM(["--slots", "2"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("--slots and --slice-ms need --policy"), "\(refused.output)")
        let badPolicy = try Self.miniVMM(["--policy", "lottery"])
        #expect(badPolicy.status != 0)
        #expect(badPolicy.output.contains("The value 'lottery' is invalid for '--policy"), "\(badPolicy.output)")
    }

    @Test(.enabled(if: ToolCheck.qemuImg, "qemu-img not installed"), arguments: [DiskKind.fixed, .dynamic])
    func qemuImgSeesTheGuestsWrite(_ kind: DiskKind) throws {
        let (directory, path, expected, _) = try Self.runOnDisk(kind)
        let reference = directory.file("expected.raw")
        #expect(FileManager.default.createFile(atPath: reference, contents: Data(expected)))
        let compare = try runProcess(
            "/usr/bin/env", ["qemu-img", "compare", "-f", "vpc", "-F", "raw", path, reference])
        #expect(compare.status == 0, "\(compare.output)")
        let converted = directory.file("converted.raw")
        let convert = try runProcess(
            "/usr/bin/env", ["qemu-img", "convert", "-f", "vpc", "-O", "raw", path, converted])
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

        #expect(
            FileManager.default.contents(atPath: parentPath) == parentBefore,
            "the parent file is byte-for-byte unchanged")
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
        let compare = try runProcess(
            "/usr/bin/env", ["qemu-img", "compare", "-f", "vpc", "-F", "raw", parentPath, reference])
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

    /// The disk is locked as QEMU locks it: an image another program writes is refused, with
    /// an error naming the file and the holder, before any guest runs; it is left as it was.
    @Test func aDiskInUseIsRefused() throws {
        let directory = try TemporaryDirectory()
        _ = try makeDisk(.dynamic, in: directory)
        let path = directory.file("disk-dynamic")
        let before = try #require(FileManager.default.contents(atPath: path))
        let writer = try VHDImage.open(path: path)
        for arguments in [["--disk", path], ["--disk", path, "--read-only"]] {
            let run = try Self.miniVMM(arguments)
            #expect(run.status == 1, "\(arguments): \(run.output)")
            #expect(run.output.contains("\(path): image is in use"), "\(run.output)")
            #expect(run.output.contains("pid \(getpid())"), "the holder is named: \(run.output)")
            #expect(!run.output.contains("result: SUCCESS"))
        }
        withExtendedLifetime(writer) {}
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

    /// The number after "disk requests served:" in a run's output.
    static func requestsServed(_ output: String) -> Int? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("disk requests served: ") }) else {
            return nil
        }
        return Int(line.dropFirst("disk requests served: ".count).prefix { $0.isNumber })
    }

    /// The guest's console text in a run's output. mini-vmm starts its pause marker on a line of
    /// its own, with a newline that is not the guest's (the console may stop mid-line).
    static func guestText(_ output: String, from start: String) throws -> String {
        let begin = try #require(output.range(of: start + "\n")).upperBound
        if let paused = output.range(of: "\n--- paused ---", range: begin..<output.endIndex) {
            return String(output[begin..<paused.lowerBound])
        }
        let end = try #require(output.range(of: "--- ", range: begin..<output.endIndex)).lowerBound
        return String(output[begin..<end])
    }

    /// Free-running, or paused under a dispatcher policy and continued under another (the policy
    /// is host scheduling, not machine state: the restored VM joins the new run's dispatcher).
    @Test(arguments: [nil, "capped"] as [String?])
    func snapshotThenRestoreReachesTheSameResult(_ policy: String?) throws {
        let pausedUnder = policy.map { ["--policy", $0] } ?? []
        let continuedUnder = policy == nil ? [] : ["--policy", "rt"]
        // Uninterrupted reference run on one copy of a disk …
        let reference = try TemporaryDirectory()
        _ = try makeDisk(.dynamic, in: reference)
        let whole = try Self.miniVMM(["--disk", reference.file("disk-dynamic"), "--vcpus", "3"])
        Self.expectGuestSucceeded(whole)
        let wholeText = try Self.guestText(whole.output, from: "--- guest serial console ---")

        // … and a run paused, saved, and continued in a new process on another copy.
        let directory = try TemporaryDirectory()
        _ = try makeDisk(.dynamic, in: directory)
        let snapshot = directory.file("snapshot")
        let first = try Self.miniVMM(
            ["--disk", directory.file("disk-dynamic"), "--vcpus", "3", "--snapshot", snapshot] + pausedUnder)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("snapshot saved to"))
        #expect(!first.output.contains("mini-vmm guest: success"))
        #expect(FileManager.default.fileExists(atPath: snapshot + "/machine.json"))
        #expect(FileManager.default.fileExists(atPath: snapshot + "/memory.bin"))
        #expect(FileManager.default.fileExists(atPath: snapshot + "/mini-vmm.json"))
        let second = try Self.miniVMM(["--restore", snapshot] + continuedUnder)
        #expect(second.status == 0, "\(second.output)")
        if let policy {
            // Continued under another policy: the restored VM's vCPUs joined the new dispatcher.
            #expect(second.output.contains("vCPUs scheduled by rt"), "\(second.output)")
            #expect(second.output.contains("dispatcher: "), "paused under \(policy): \(second.output)")
        }
        #expect(second.output.contains("mini-vmm guest: success"), "\(second.output)")
        // Every request is served exactly once, by one process or the other: where the pause
        // falls (before or after the write's notify) depends on timing, the total does not.
        let servedWhole = try #require(Self.requestsServed(whole.output))
        let servedFirst = try #require(Self.requestsServed(first.output))
        let servedSecond = try #require(Self.requestsServed(second.output))
        #expect(servedWhole == 4, "\(whole.output)")
        #expect(servedFirst + servedSecond == servedWhole, "first:\n\(first.output)\nsecond:\n\(second.output)")
        #expect(servedSecond >= 1, "the flush comes after the checksum, in the continuing process")
        #expect(second.output.contains(", failed 0;"))
        #expect(second.output.contains("workers: 2 vCPU(s) reported correct results"))

        // The guest's output, joined across the two processes, is the uninterrupted one.
        let joined =
            try Self.guestText(first.output, from: "--- guest serial console ---")
            + Self.guestText(second.output, from: "--- guest serial console (continued) ---")
        #expect(joined == wholeText)
        // The same final line, and the same disk contents.
        let resultLine = { (output: String) in output.split(separator: "\n").last { $0.hasPrefix("result:") } }
        #expect(resultLine(second.output) == resultLine(whole.output))
        let a = try VHDImage.open(path: reference.file("disk-dynamic"), readOnly: true)
        let b = try VHDImage.open(path: directory.file("disk-dynamic"), readOnly: true)
        #expect(try a.read(at: 0, length: 1 << 20) == b.read(at: 0, length: 1 << 20))
    }

    @Test func aDamagedSnapshotIsRefused() throws {
        let directory = try TemporaryDirectory()
        _ = try makeDisk(.raw, in: directory)
        let snapshot = directory.file("snapshot")
        #expect(try Self.miniVMM(["--disk", directory.file("disk-raw"), "--snapshot", snapshot]).status == 0)
        // Point the used ring outside guest memory: the restore must refuse it.
        let statePath = snapshot + "/machine.json"
        var text = try String(contentsOfFile: statePath, encoding: .utf8)
        let range = try #require(text.range(of: "\"usedRing\" : 1056768"))
        text.replaceSubrange(range, with: "\"usedRing\" : 4294967296")
        try text.write(toFile: statePath, atomically: true, encoding: .utf8)
        let restored = try Self.miniVMM(["--restore", snapshot])
        #expect(restored.status != 0)
        #expect(
            restored.output.contains("used ring at 0x100000000 is misaligned or outside guest memory"),
            "\(restored.output)")
    }
}

extension MiniVMMTests {
    /// Errors are one readable line naming the file (no Foundation error dumps), and options
    /// that contradict a restored snapshot are usage errors (exit 64), not silently ignored.
    @Test func errorsAreOneLineAndRestoreRefusesContradictingOptions() throws {
        let missing = try Self.miniVMM(["--disk", "/nonexistent-disk.img"])
        #expect(missing.status == 1)
        #expect(missing.output == "mini-vmm: /nonexistent-disk.img: open failed: No such file or directory\n")
        let directory = try TemporaryDirectory()
        let noSnapshot = try Self.miniVMM(["--restore", directory.path])
        #expect(noSnapshot.status == 1)
        #expect(noSnapshot.output.hasPrefix("mini-vmm: \(directory.path)/machine.json: "), "\(noSnapshot.output)")
        #expect(!noSnapshot.output.contains("NSCocoaErrorDomain"))
        for extra in [["--vcpus", "4"], ["--read-only"]] {
            let contradicted = try Self.miniVMM(["--restore", directory.path] + extra)
            #expect(contradicted.status == 64, "\(extra): \(contradicted.output)")
            #expect(contradicted.output.contains("do not apply to --restore"), "\(extra)")
        }
        #expect(try Self.miniVMM(["--timeout", "-1"]).status == 64)
        // Several VMs: 1 to 16, each on a demo disk of its own, and no snapshot.
        for (arguments, message) in [
            (["--vms", "0"], "--vms must be between 1 and 16"), (["--vms", "17"], "--vms must be between 1 and 16"),
            (["--vms", "2", "--snapshot", directory.file("s")], "work with one VM"),
            (["--vms", "2", "--restore", directory.path], "work with one VM"),
            (["--vms", "2", "--disk", directory.file("d")], "only one VM may write"),
        ] {
            let refused = try Self.miniVMM(arguments)
            #expect(refused.status == 64, "\(arguments): \(refused.output)")
            #expect(refused.output.contains(message), "\(arguments): \(refused.output)")
        }
    }
}

/// `--vms N`: N copies of the demo guest at once under one VM manager.
extension MiniVMMTests {
    /// The per-VM rows of the manager's table (`id name state: R = …; T = …; H = …`), and its
    /// total line.
    static func managerTable(_ output: String) throws -> (rows: [Substring], total: Substring) {
        let lines = output.split(separator: "\n")
        let rows = lines.filter { line in
            line.first?.isNumber == true && line.contains(": R = ") && line.contains("; T = ")
                && line.contains("; H = ")
        }
        return (rows, try #require(lines.first { $0.hasPrefix("total: R = ") }, "no total line in:\n\(output)"))
    }

    /// The dispatcher's rows of a run of several VMs: slices by (VM id, vCPU index).
    static func dispatcherRowsByVM(_ output: String) throws -> [[Int]: UInt64] {
        let lines = output.split(separator: "\n")
        let header = try #require(
            lines.firstIndex { $0.hasPrefix("VM  vCPU  T_cpu ") }, "no dispatcher table in:\n\(output)")
        var rows: [[Int]: UInt64] = [:]
        for line in lines[(header + 1)...] {
            let fields = line.split(separator: " ")
            guard fields.count >= 4, let vm = Int(fields[0]), let index = Int(fields[1]),
                let slices = UInt64(fields[fields.count - 2])
            else { break }
            rows[[vm, index]] = slices
        }
        return rows
    }

    @Test(
        "three VMs, free-running or on one dispatcher slot, each drive their own disk",
        arguments: [[], ["--policy", "fair", "--slots", "1"]])
    func threeVMsUnderOneManager(_ scheduling: [String]) throws {
        let run = try Self.miniVMM(["--vms", "3"] + scheduling)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("disks: 3 new demo disks in "), "\(run.output)")
        #expect(run.output.components(separatedBy: "mini-vmm guest: success\n").count == 4, "\(run.output)")
        for name in ["vm-1", "vm-2", "vm-3"] {
            for line in [
                "--- \(name) serial console ---\nmini-vmm guest: virtio-blk driver on vCPU 0\n",
                "\(name): disk requests served: 4 (read 2, write 1, flush 1), failed 0;",
                "\(name): workers: 1 vCPU(s) reported correct results", "\(name): result: SUCCESS (",
            ] {
                #expect(run.output.contains(line), "missing \"\(line)\" in:\n\(run.output)")
            }
        }
        #expect(!run.output.contains("FAILURE"), "\(run.output)")
        #expect(run.output.contains("result: SUCCESS: the guests of all 3 VMs succeeded"), "\(run.output)")

        // The manager's table: R, T and H for each VM, then the totals.
        let (rows, total) = try Self.managerTable(run.output)
        #expect(rows.count == 3, "\(run.output)")
        for (index, row) in rows.enumerated() {
            #expect(row.hasPrefix("\(index + 1) vm-\(index + 1) "), "\(row)")
            #expect(row.contains(": R = 2 vCPU + 16 MiB + 8 MiB disk; T = "), "\(row)")
            #expect(row.contains("; H = 2 threads + 16 MiB RAM + 1 disk(s)"), "\(row)")
        }
        #expect(total.hasPrefix("total: R = 6/"), "\(total)")

        guard !scheduling.isEmpty else {
            #expect(!run.output.contains("dispatcher:"), "\(run.output)")
            return
        }
        // One dispatcher for all six vCPUs; VM 1 has twice the weight of the others.
        #expect(run.output.contains("vCPUs of all VMs scheduled by fair ("), "\(run.output)")
        #expect(total.contains(" on 1 slot(s), Jain "), "\(total)")
        #expect(rows[0].contains("share: weight 2048"), "\(rows[0])")
        #expect(rows[1].contains("share: weight 1024") && rows[2].contains("share: weight 1024"), "\(rows)")
        let slices = try Self.dispatcherRowsByVM(run.output)
        #expect(
            slices.keys.sorted { $0.lexicographicallyPrecedes($1) } == [
                [1, 0], [1, 1], [2, 0], [2, 1], [3, 0], [3, 1],
            ])
        #expect(slices.values.allSatisfy { $0 > 0 }, "\(run.output)")
    }

    /// A guest that has not finished when the time is up fails its VM; the VMs are stopped
    /// (taken out of the dispatcher while their vCPUs still run) and the run ends.
    @Test(arguments: [[], ["--policy", "rt", "--slots", "1"]])
    func aTimeoutFailsEveryUnfinishedVMAndTheRunEnds(_ scheduling: [String]) throws {
        let run = try Self.miniVMM(
            ["--vms", "2", "--vcpus", "4", "--timeout", "0.001"] + scheduling, timeoutSeconds: 60)
        #expect(run.status == 1, "\(run.output)")
        for name in ["vm-1", "vm-2"] {
            #expect(run.output.contains("\(name): result: FAILURE: timed out after 0.001 s"), "\(run.output)")
        }
        #expect(run.output.contains("result: FAILURE: 2 of 2 VMs failed (vm-1, vm-2)"), "\(run.output)")
    }

    /// Every VM's guest is judged: read-only disks fail each guest's write, and the run fails.
    @Test func aFailingGuestFailsTheRunOfSeveralVMs() throws {
        let run = try Self.miniVMM(["--vms", "2", "--read-only"])
        #expect(run.status == 1, "\(run.output)")
        for name in ["vm-1", "vm-2"] {
            #expect(run.output.contains("\(name): result: FAILURE: guest reported failure at step 5"), "\(run.output)")
        }
        #expect(run.output.contains("result: FAILURE: 2 of 2 VMs failed (vm-1, vm-2)"), "\(run.output)")
    }
}
