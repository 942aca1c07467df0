import Foundation
import KVM
import LinuxLoader
import LinuxLoaderFixtures
import ResourceAllocator
import Synchronization
import TestSupport
import Testing

/// A real Linux kernel (Debian's cloud kernel, `.ci/fetch-test-kernel.sh`) booted by `linux-vm`
/// through both entries — the bzImage through the 64-bit boot protocol, the vmlinux inside it
/// through PVH — reads back, in its own serial output, everything the VMM told it: its banner,
/// the command line as passed, the e820 map as written, the initrd where it was put, the two
/// vCPUs of the ACPI MADT; and it gets at least as far as QEMU does on this host (the `Memory:`
/// line, REFERENCE.md §5). The run ends with a line saying why: on this host the nested KVM's
/// emulator fails on `lock cmpxchg16b` (reported with the instruction's bytes); on a host with
/// hardware KVM the kernel panics for want of a root file system and, with `panic=-1`, reboots
/// through the i8042 (exit status 0).
///
/// Each boot costs one to two minutes here (guest code runs at ~1 M instructions/s): the two run
/// in parallel, alone, in a step of their own that `.ci/run` runs once after `swift test`
/// (`SWIFT_VMM_SLOW_TESTS=1`); a plain `swift test` skips them, saying so.
@Suite(
    .usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"),
    .enabled(
        if: ProcessInfo.processInfo.environment["SWIFT_VMM_SLOW_TESTS"] == "1",
        "the slow end-to-end boot suite: run it with SWIFT_VMM_SLOW_TESTS=1 (.ci/run does)"),
    .enabled(if: TestKernels.available || ProcessInfo.processInfo.environment["CI"] != nil, "\(TestKernels.missing)"))
struct LinuxBootTests {
    static let memorySize: UInt64 = 256 << 20

    /// An initramfs holding nothing: a newc cpio archive with only its trailer.
    static func emptyInitramfs() -> [UInt8] {
        let name = Array("TRAILER!!!".utf8) + [0]
        var header = "070701"
        for field in [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, name.count, 0] {
            let hex = String(field, radix: 16, uppercase: true)
            header += String(repeating: "0", count: 8 - hex.count) + hex
        }
        var bytes = Array(header.utf8) + name
        bytes += [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
        return bytes + [UInt8](repeating: 0, count: 512 - bytes.count % 512)
    }

    /// The kernel's own lines, without their `[    0.000000] ` timestamps.
    static func kernelLines(_ output: String) -> [String] {
        output.split(whereSeparator: \.isNewline).map { line in
            guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return String(line) }
            return String(line[line.index(after: close)...].drop { $0 == " " })
        }
    }

    /// `BIOS-e820: [mem 0x…-0x…] usable` for each entry of the map the VMM wrote. A kernel
    /// entered through PVH adds the ISA hole (0xA0000–0xFFFFF) as reserved itself
    /// (`init_pvh_bootparams`) and merges what then overlaps or touches, as its e820 code does.
    static func expectedE820Lines(pvh: Bool) throws -> [String] {
        var entries = try E820Map.forLayout(X86_64Layout(memorySize: memorySize)).entries.map {
            (start: $0.address, end: $0.end, ram: $0.kind == .ram)
        }
        if pvh {
            entries.append((start: 0xA_0000, end: 0x10_0000, ram: false))
            entries.sort { $0.start < $1.start }
            var merged: [(start: UInt64, end: UInt64, ram: Bool)] = []
            for entry in entries {
                if let last = merged.last, last.ram == entry.ram, entry.start <= last.end {
                    merged[merged.count - 1].end = max(last.end, entry.end)
                } else {
                    merged.append(entry)
                }
            }
            entries = merged
        }
        return entries.map { entry in
            String(format: "BIOS-e820: [mem 0x%016llx-0x%016llx] ", entry.start, entry.end - 1)
                + (entry.ram ? "usable" : "reserved")
        }
    }

    static func commandLine(_ name: String) -> String {
        "console=ttyS0 earlyprintk=serial,ttyS0 reboot=k panic=-1 swiftvmm.boot=\(name)"
    }

    /// Boots `kernel` through `entry` with an empty initramfs and 2 vCPUs; linux-vm's result.
    static func run(_ kernel: String, entry: String, name: String, tool: String, in dir: TemporaryDirectory) throws
        -> ProcessResult
    {
        let initrd = dir.file("initramfs-\(name).cpio")
        try Data(emptyInitramfs()).write(to: URL(fileURLWithPath: initrd))
        return try runProcess(
            tool,
            [
                "--kernel", kernel, "--initrd", initrd, "--cmdline", commandLine(name), "--vcpus", "2", "--memory",
                "256M", "--entry", entry, "--timeout", "600",
            ])
    }

    /// Checks what the kernel booted through `entry` printed, and how the run ended.
    func check(_ result: ProcessResult, entry: String, name: String) throws {
        let commandLine = Self.commandLine(name)
        let initramfs = Self.emptyInitramfs()
        let lines = Self.kernelLines(result.text)
        let last = lines.last { !$0.isEmpty } ?? "(nothing)"
        print("linux-vm \(name): \(lines.count) lines; last: \(last)")
        print("linux-vm \(name): \(result.standardError.split(separator: "\n").last ?? "")")

        #expect(lines.contains { $0.hasPrefix("Linux version ") }, "the banner: \(result.text)")
        #expect(lines.contains("Command line: \(commandLine)"), "the command line as passed")
        let e820 = lines.filter { $0.hasPrefix("BIOS-e820: ") }
        let expected = try Self.expectedE820Lines(pvh: entry == "pvh")
        #expect(e820 == expected, "the e820 map as written: \(e820) against \(expected)")
        #expect(lines.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), "both vCPUs, from the MADT")
        #expect(lines.contains { $0.hasPrefix("ACPI: DSDT 0x") }, "the ACPI tables found")
        // The initrd the kernel reserved is the one linux-vm reported, of the file's size (the
        // kernel prints its end rounded up to a page: `reserve_initrd`).
        let ramdisk = try #require(lines.first { $0.hasPrefix("RAMDISK: [mem 0x") }, "the RAMDISK line")
        let bounds = ramdisk.dropFirst("RAMDISK: [mem 0x".count).dropLast().split(separator: "-").map {
            UInt64($0.hasPrefix("0x") ? $0.dropFirst(2) : $0, radix: 16)
        }
        try #require(bounds.count == 2, "\(ramdisk)")
        let (start, end) = (try #require(bounds[0]), try #require(bounds[1]))
        let size = UInt64(initramfs.count)
        #expect(start % 4096 == 0 && end + 1 == (start + size + 4095) & ~4095 && end < Self.memorySize, "\(ramdisk)")
        #expect(
            result.standardError.contains(
                "initrd at [0x\(String(start, radix: 16)), 0x\(String(start + size - 1, radix: 16))]"),
            "\(result.standardError)")
        // At least as far as QEMU gets on this host.
        #expect(lines.contains { $0.hasPrefix("Memory: ") && $0.contains("K available") }, "the Memory: line")

        // The last line says why the VM stopped, and the exit status matches it.
        let stopLine = try #require(
            result.standardError.split(separator: "\n").last { $0.hasPrefix("linux-vm: stopped after ") },
            "\(result.standardError)")
        if stopLine.contains("KVM internal error") {
            #expect(result.status == 1 && stopLine.contains("instruction bytes "), "\(stopLine)")
        } else {
            #expect(
                result.status == 0 && stopLine.contains("reboot"), "a guest that ran to its panic reboots: \(stopLine)")
        }
    }

    /// Both boots at once (one per host core), while no other KVM test runs: they would slow
    /// each other's emulated guests to a crawl.
    @Test(.usesKVM(exclusively: true)) func bothEntriesBootTheTestKernel() throws {
        let tool = try #require(builtExecutable(named: "linux-vm"), "linux-vm is not built")
        let boots = [
            (try #require(TestKernels.bzImage, "\(TestKernels.missing)"), "linux64", "bzimage"),
            (try #require(TestKernels.vmlinux, "\(TestKernels.missing)"), "pvh", "pvh"),
        ]
        let dir = try TemporaryDirectory()
        let results = Mutex<[Int: Result<ProcessResult, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: boots.count) { i in
            let (kernel, entry, name) = boots[i]
            let result = Result { try Self.run(kernel, entry: entry, name: name, tool: tool, in: dir) }
            results.withLock { $0[i] = result }
        }
        for (i, (_, entry, name)) in boots.enumerated() {
            try check(try #require(results.withLock { $0[i] }).get(), entry: entry, name: name)
        }
    }
}

/// `linux-vm`'s command line: usage errors exit 64 naming the option, a missing or unreadable
/// kernel, initrd or disk exits 1 naming the file, and nothing runs in either case.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct LinuxVMCommandLineTests {
    static func run(_ arguments: [String]) throws -> ProcessResult {
        let tool = try #require(builtExecutable(named: "linux-vm"), "linux-vm is not built")
        return try runProcess(tool, arguments)
    }

    @Test func usageErrorsExit64NamingTheOption() throws {
        let cases: [([String], String)] = [
            ([], "Missing expected argument '--kernel <file>'"),
            (["--kernel", "k", "--vcpus", "0"], "--vcpus 0: from 1 to 254"),
            (["--kernel", "k", "--vcpus", "255"], "--vcpus 255: from 1 to 254"),
            (["--kernel", "k", "--memory", "1M"], "--memory 1048576 bytes: from 64M to 64G"),
            (["--kernel", "k", "--memory", "12MB"], "'12MB' is not a byte count"),
            (["--kernel", "k", "--timeout", "0"], "--timeout 0.0: from 0 to 86400 s"),
            (["--kernel", "k", "--read-only"], "--read-only needs --disk"),
            (["--kernel", "k", "--entry", "bios"], "The value 'bios' is invalid for '--entry <entry>'"),
            (
                ["--kernel", "k", "--cpuid-hide", "cx16,cx61"],
                "--cpuid-hide: unknown CPUID feature 'cx61' (did you mean 'cx16'?)"
            ),
            (["--kernel", "k", "--cpuid-hide", "lm"], "--cpuid-hide: CPUID feature 'lm' cannot be hidden"),
        ]
        for (arguments, message) in cases {
            let result = try Self.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
            #expect(result.standardOutput.isEmpty, "\(arguments)")
        }
    }

    @Test func filesAtFaultAreNamed() throws {
        let dir = try TemporaryDirectory()
        let notAKernel = dir.file("notes.txt")
        try Data("not a kernel\n".utf8).write(to: URL(fileURLWithPath: notAKernel))
        let missing = dir.file("missing")
        func check(_ arguments: [String], names file: String) throws {
            let result = try Self.run(arguments)
            #expect(result.status == 1, "\(arguments): \(result.standardError)")
            let last = result.standardError.split(separator: "\n").last.map(String.init) ?? ""
            #expect(last.hasPrefix("linux-vm: ") && last.contains(file), "\(arguments): \(result.standardError)")
        }
        try check(["--kernel", missing], names: missing)
        try check(["--kernel", notAKernel], names: notAKernel)
        // With a real kernel the initrd and the disk are reached (and fail before anything runs).
        try whenAvailable(TestKernels.bzImage != nil, "the initrd and disk cases", missing: TestKernels.missing) {
            let kernel = TestKernels.bzImage ?? ""
            try check(["--kernel", kernel, "--initrd", missing], names: missing)
            try check(["--kernel", kernel, "--disk", missing], names: missing)
            try check(["--kernel", kernel, "--entry", "pvh"], names: kernel)
        }
    }
}

/// How `linux-vm` ends, with tiny PVH "kernels" (the synthetic ELF with its entry patched): a
/// guest that pulses the i8042 reset line ends as a reboot request (exit 0), one that writes S5
/// or the reset value to the ACPI power control port as a power-off or reboot (exit 0), one that
/// triple-faults as a reset (exit 0), one that never stops as a timeout (exit 2); each prints
/// through COM1 first, and the last line names the reason.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct LinuxVMOutcomeTests {
    /// 32-bit: `mov dx, 0x3f8; mov al, 'h'; out dx, al; mov al, 'i'; out dx, al; mov al, 10; out dx, al`
    static let greeting: [UInt8] = [0x66, 0xBA, 0xF8, 0x03, 0xB0, 0x68, 0xEE, 0xB0, 0x69, 0xEE, 0xB0, 0x0A, 0xEE]

    /// Runs `linux-vm` on the synthetic ELF whose PVH entry (file offset 0x1080) holds `code`.
    static func run(_ code: [UInt8], timeout: String = "60") throws -> ProcessResult {
        let tool = try #require(builtExecutable(named: "linux-vm"), "linux-vm is not built")
        let dir = try TemporaryDirectory()
        var image = Synthetic.elf()
        image.replaceSubrange(0x1080..<0x1080 + code.count, with: code)
        let path = dir.file("kernel.elf")
        try Data(image).write(to: URL(fileURLWithPath: path))
        return try runProcess(tool, ["--kernel", path, "--timeout", timeout, "--memory", "64M"])
    }

    static func lastLine(_ result: ProcessResult) -> String {
        result.standardError.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// The guest printed its greeting, linux-vm exited with `status`, and its last line ends
    /// with `reason`.
    static func expectEnd(
        _ result: ProcessResult, status: Int32, reason: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.text == "hi\n", sourceLocation: sourceLocation)
        #expect(result.status == status, "\(result.standardError)", sourceLocation: sourceLocation)
        #expect(lastLine(result).hasSuffix("s: " + reason), "\(result.standardError)", sourceLocation: sourceLocation)
    }

    @Test func anI8042ResetIsARebootRequest() throws {
        // mov al, 0xfe; out 0x64, al; jmp $
        let result = try Self.run(Self.greeting + [0xB0, 0xFE, 0xE6, 0x64, 0xEB, 0xFE])
        Self.expectEnd(result, status: 0, reason: "the guest requested a reboot (i8042 reset line)")
    }

    @Test func anACPIPowerOffAndResetEndTheRun() throws {
        // mov dx, 0x600; mov al, 0x34; out dx, al; jmp $  (SLP_EN | S5 << 2 to the sleep control register)
        let off = try Self.run(Self.greeting + [0x66, 0xBA, 0x00, 0x06, 0xB0, 0x34, 0xEE, 0xEB, 0xFE])
        Self.expectEnd(off, status: 0, reason: "the guest powered off (ACPI S5)")
        // mov dx, 0x600; mov al, 1; out dx, al; jmp $  (RESET_VALUE to the reset register)
        let reset = try Self.run(Self.greeting + [0x66, 0xBA, 0x00, 0x06, 0xB0, 0x01, 0xEE, 0xEB, 0xFE])
        Self.expectEnd(reset, status: 0, reason: "the guest requested a reboot (ACPI reset register)")
    }

    @Test func aTripleFaultIsAReset() throws {
        // ud2 with the empty boot IDT: #UD, #GP, #DF, then the shutdown KVM reports.
        let result = try Self.run(Self.greeting + [0x0F, 0x0B])
        Self.expectEnd(result, status: 0, reason: "the guest requested a reboot (triple fault)")
    }

    @Test func aGuestThatRunsOnTimesOut() throws {
        let result = try Self.run(Self.greeting + [0xEB, 0xFE], timeout: "1")
        Self.expectEnd(result, status: 2, reason: "timeout after 1.0 s (the guest was still running)")
    }
}
