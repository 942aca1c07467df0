// boot-bench: how long a Linux kernel takes to start under linux-vm, side by side with QEMU's
// microvm machine on the same kernel and command line (`qemu-system-x86_64 -M microvm -kernel`,
// Debian's qemu-system-x86), in the same run.
//
// Each VMM runs as a process; the clock starts when the process is spawned (so "create VM" and
// everything after it counts for both) and stops at the kernel's first line (its `Linux version`
// banner: QEMU writes terminal control bytes of its own before the kernel prints anything, so the
// first byte on standard output is not the kernel's) and at its `Memory: …K available` line,
// after which the process is killed. On this machine kind the
// nested KVM emulates guest code at ~1 M instructions/s (REFERENCE.md §5), so one boot takes
// minutes and the default is one round.
//
//     swift run -c release boot-bench [--kernel FILE] [--rounds R] [--json]
import ArgumentParser
import BenchmarkSupport
import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

@main
struct BootBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot-bench",
        abstract: "Time to the kernel's banner and to its Memory: line, linux-vm vs qemu microvm.")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: ArgumentHelp("The kernel (default: the test kernel's bzImage).", valueName: "file"))
    var kernel: String?

    @Option(help: "Seconds to wait for the Memory: line before giving up on a boot.")
    var timeout: Double = 900

    static let commandLine = "console=ttyS0 earlyprintk=serial,ttyS0 reboot=k panic=-1"

    /// When a boot reached its marks, in seconds from the spawn (`nil`: never).
    struct Marks {
        var banner: Double?
        var memoryLine: Double?
    }

    func run() throws {
        guard let kernel = kernel ?? TestKernels.bzImage else {
            throw ValidationError("no --kernel and \(TestKernels.missing)")
        }
        guard let linuxVM = builtExecutable(named: "linux-vm") else {
            throw ValidationError("linux-vm is not built next to boot-bench: swift build -c release --product linux-vm")
        }
        let qemu = ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let rounds = options.rounds ?? 1
        var ours: [Marks] = [], theirs: [Marks] = []
        for _ in 0..<rounds {
            ours.append(
                try Self.boot(
                    linuxVM,
                    [
                        "--kernel", kernel, "--cmdline", Self.commandLine, "--vcpus", "2", "--memory", "256M",
                        "--timeout", "\(Int(timeout))",
                    ], timeout: timeout))
            if let qemu {
                theirs.append(
                    try Self.boot(
                        qemu,
                        [
                            "-enable-kvm", "-M", "microvm", "-m", "256", "-smp", "2", "-kernel", kernel, "-append",
                            Self.commandLine, "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot",
                        ], timeout: timeout))
            }
        }
        var report = BenchmarkReport(
            title: "boot-bench: \(rounds) round(s), 2 vCPUs, 256 MiB, \(kernel)",
            columns: ["mark", "linux-vm (s)", "qemu microvm (s)", "ratio"])
        for (name, keyPath) in [("kernel banner (Linux version)", \Marks.banner), ("Memory: line", \Marks.memoryLine)] {
            let a = ours.compactMap { $0[keyPath: keyPath] }, b = theirs.compactMap { $0[keyPath: keyPath] }
            let ourMedian = a.count == rounds ? Summary(a).median : nil
            let theirMedian = !b.isEmpty && b.count == rounds ? Summary(b).median : nil
            report.add([
                .text(name), ourMedian.map { .number($0, decimals: 2) } ?? .text("not reached"),
                theirMedian.map { .number($0, decimals: 2) } ?? .text(qemu == nil ? "no qemu" : "not reached"),
                ourMedian.flatMap { o in theirMedian.map { .number(o / $0, decimals: 2) } } ?? .text("n/a"),
            ])
        }
        report.note("medians from process spawn; ratio = linux-vm / QEMU (below 1: linux-vm is faster)")
        if qemu == nil { report.note("qemu-system-x86_64 not installed (Debian qemu-system-x86): no baseline") }
        report.print(options)
    }

    /// Spawns `path`, timestamps its standard output, kills it at the `Memory:` line or `timeout`.
    static func boot(_ path: String, _ arguments: [String], timeout: Double) throws -> Marks {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let start = DispatchTime.now().uptimeNanoseconds
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        var marks = Marks()
        var text = ""
        let fd = out.fileHandleForReading.fileDescriptor
        var buffer = [UInt8](repeating: 0, count: 65536)
        while now() < timeout {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 1000) >= 0 else { break }
            guard poller.revents != 0 else { continue }
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            text += String(decoding: buffer[0..<count], as: UTF8.self)
            if marks.banner == nil, text.contains("Linux version ") { marks.banner = now() }
            if text.contains("Memory: "), let range = text.range(of: "Memory: "),
                text[range.upperBound...].contains("K available")
            {
                marks.memoryLine = now()
                break
            }
        }
        return marks
    }
}
