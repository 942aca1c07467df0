import Foundation
import LinuxLoaderFixtures
import Machine
import TestSupport
import Testing

/// A configuration is checked as a whole before anything exists: a valid one passes and survives
/// a JSON round trip; each invalid field is reported with the exact problem naming it (and the
/// file at fault); several problems are all reported at once, in field order.
@Suite struct ConfigurationTests {
    static func write(_ bytes: [UInt8], _ name: String, in dir: TemporaryDirectory) throws -> String {
        let path = dir.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func flat(_ path: String, memory: UInt64 = 16 << 20) -> VirtualMachineConfiguration {
        VirtualMachineConfiguration(
            name: "test", vcpuCount: 2, memorySize: memory, boot: .flatBinary(FlatBinaryBoot(path: path)))
    }

    static func problems(_ configuration: VirtualMachineConfiguration) -> [ConfigurationProblem] {
        do {
            try configuration.validate()
            return []
        } catch {
            return error.problems
        }
    }

    @Test func aValidConfigurationPassesAndRoundTrips() throws {
        let dir = try TemporaryDirectory()
        let image = try Self.write([0xF4], "guest.bin", in: dir)
        let disk = try Self.write([UInt8](repeating: 0, count: 1 << 20), "disk.raw", in: dir)
        var configuration = Self.flat(image)
        configuration.disks = [DiskConfiguration(path: disk, format: "raw")]
        configuration.console = .file(path: dir.file("console.log"))
        configuration.scheduling = SchedulingConfiguration(weight: 2048, capQuotaNanoseconds: 50_000_000)
        configuration.hiddenCPUIDFeatures = ["cx16"]
        try configuration.validate()
        let json = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(VirtualMachineConfiguration.self, from: json) == configuration)
    }

    @Test func everyProblemIsReportedAtOnceInFieldOrder() throws {
        let dir = try TemporaryDirectory()
        var configuration = Self.flat(dir.file("missing.bin"), memory: 1 << 20)
        configuration.name = ""
        configuration.vcpuCount = 0
        configuration.scheduling.weight = 0
        configuration.hiddenCPUIDFeatures = ["lm"]
        #expect(
            Self.problems(configuration) == [
                .name(""), .vcpuCount(0),
                .memorySize(1 << 20, "from \(2 << 20) to \(1 << 40) bytes"),
                .unreadableFile(what: "boot image", path: dir.file("missing.bin"), reason: "No such file or directory"),
                .scheduling("weight 0: at least 1"),
                .cpuidFeatures(.notHideable("lm")),
            ])
    }

    @Test func sizesAndCounts() throws {
        let dir = try TemporaryDirectory()
        let image = try Self.write([0xF4], "guest.bin", in: dir)
        var c = Self.flat(image)
        c.vcpuCount = 255
        #expect(Self.problems(c) == [.vcpuCount(255)])
        c = Self.flat(image, memory: (16 << 20) + 512)
        #expect(Self.problems(c) == [.memorySize((16 << 20) + 512, "not a whole number of 4 KiB pages")])
        c = Self.flat(image, memory: (16 << 20) + 4096)
        c.memoryBacking = .hugePages
        #expect(Self.problems(c) == [.memorySize((16 << 20) + 4096, "huge pages need a multiple of 2 MiB")])
        c = Self.flat(image)
        c.name = String(repeating: "x", count: 65)
        #expect(Self.problems(c) == [.name(c.name)])
        c.name = "tab\there"
        #expect(Self.problems(c) == [.name("tab\there")])
    }

    @Test func aFlatBinaryMustLandInRAMWithItsEntryInside() throws {
        let dir = try TemporaryDirectory()
        let image = try Self.write([UInt8](repeating: 0x90, count: 0x1000), "guest.bin", in: dir)
        let empty = try Self.write([], "empty.bin", in: dir)
        func problems(_ boot: FlatBinaryBoot) -> [ConfigurationProblem] {
            var c = Self.flat(image)
            c.boot = .flatBinary(boot)
            return Self.problems(c)
        }
        let outside = "4096 bytes at 0x%@ are not inside guest RAM above 0x10000"
        #expect(
            problems(FlatBinaryBoot(path: image, loadAddress: 0x8000))
                == [.flatBinary(outside.replacingOccurrences(of: "%@", with: "8000"))])
        #expect(
            problems(FlatBinaryBoot(path: image, loadAddress: (16 << 20) - 0x800))
                == [.flatBinary(outside.replacingOccurrences(of: "%@", with: "fff800"))])
        #expect(
            problems(FlatBinaryBoot(path: image, loadAddress: UInt64.max - 0x10))
                == [.flatBinary(outside.replacingOccurrences(of: "%@", with: "ffffffffffffffef"))])
        #expect(
            problems(FlatBinaryBoot(path: image, loadAddress: 0x10_0000, entry: 0x10_1000))
                == [.flatBinary("entry 0x101000 is outside the loaded image")])
        #expect(
            problems(FlatBinaryBoot(path: image, loadAddress: 0x10_0000, mode: .real))
                == [.flatBinary("entry 0x100000 is out of reach in real mode")])
        #expect(problems(FlatBinaryBoot(path: image, loadAddress: 0x1_0000, mode: .real)) == [])
        #expect(problems(FlatBinaryBoot(path: empty)) == [.flatBinary("\(empty) is empty")])
        let stacks = "stacks of %@ bytes × 2 at 0x%@ are not inside guest RAM above 0x10000, clear of the image"
        func stackProblem(_ size: String, _ base: String) -> [ConfigurationProblem] {
            [
                .flatBinary(
                    stacks.replacingOccurrences(of: "%@ bytes", with: "\(size) bytes").replacingOccurrences(
                        of: "0x%@", with: "0x\(base)"))
            ]
        }
        #expect(problems(FlatBinaryBoot(path: image, stackBase: 0x7_0000)) == [])
        #expect(problems(FlatBinaryBoot(path: image, stackBase: 0x7_0000, stackSize: 0)) == stackProblem("0", "70000"))
        #expect(problems(FlatBinaryBoot(path: image, stackBase: 0x8000)) == stackProblem("4096", "8000"))
        #expect(problems(FlatBinaryBoot(path: image, stackBase: 0xFF_F000)) == stackProblem("4096", "fff000"))
        #expect(problems(FlatBinaryBoot(path: image, stackBase: 0x10_0800)) == stackProblem("4096", "100800"))
        #expect(
            problems(FlatBinaryBoot(path: dir.path))
                == [.unreadableFile(what: "boot image", path: dir.path, reason: "not a regular file")])
    }

    @Test func aLinuxBootIsCheckedDownToTheKernel() throws {
        let dir = try TemporaryDirectory()
        let bzImage = try Self.write(Synthetic.bzImage(), "vmlinuz", in: dir)
        let elf = try Self.write(Synthetic.elf(), "vmlinux", in: dir)
        let notes = try Self.write(Array("not a kernel\n".utf8), "notes.txt", in: dir)
        func problems(_ linux: LinuxBoot) -> [ConfigurationProblem] {
            Self.problems(VirtualMachineConfiguration(memorySize: 64 << 20, boot: .linux(linux)))
        }
        #expect(problems(LinuxBoot(kernel: bzImage)) == [])
        #expect(problems(LinuxBoot(kernel: elf, entry: .pvh)) == [])
        #expect(
            problems(LinuxBoot(kernel: bzImage, entry: .pvh))
                == [.unreadableFile(what: "kernel", path: bzImage, reason: "a bzImage has no PVH entry")])
        let notAKernel = problems(LinuxBoot(kernel: notes))
        #expect(notAKernel.count == 1)
        if case .unreadableFile(what: "kernel", path: notes, let reason) = notAKernel.first {
            #expect(reason.hasPrefix("not a kernel image"), "\(reason)")
        } else {
            Issue.record("\(notAKernel)")
        }
        #expect(
            problems(LinuxBoot(kernel: bzImage, initrd: dir.file("none")))
                == [.unreadableFile(what: "initrd", path: dir.file("none"), reason: "No such file or directory")])
        #expect(problems(LinuxBoot(kernel: bzImage, commandLine: "a\u{0}b")) == [.commandLine("it holds a NUL byte")])
        #expect(
            problems(LinuxBoot(kernel: bzImage, commandLine: String(repeating: "x", count: 2048)))
                == [.commandLine("2048 bytes, at most 2047")])
    }

    @Test func disksConsoleSchedulingAndCPUID() throws {
        let dir = try TemporaryDirectory()
        let image = try Self.write([0xF4], "guest.bin", in: dir)
        let disk = try Self.write([UInt8](repeating: 0, count: 4096), "disk.raw", in: dir)
        try FileManager.default.createSymbolicLink(atPath: dir.file("alias.raw"), withDestinationPath: disk)
        var c = Self.flat(image)
        c.disks = [
            DiskConfiguration(path: disk), DiskConfiguration(path: dir.file("alias.raw"), readOnly: true),
            DiskConfiguration(path: dir.file("gone.vhd")), DiskConfiguration(path: disk, format: "qcow2"),
        ]
        #expect(
            Self.problems(c) == [
                .duplicateDisk(path: dir.file("alias.raw")),
                .unreadableFile(what: "disk 2", path: dir.file("gone.vhd"), reason: "No such file or directory"),
                .unknownDiskFormat(path: disk, format: "qcow2"), .duplicateDisk(path: disk),
            ])
        c.disks = (0..<17).map { _ in DiskConfiguration(path: disk, readOnly: true) }
        #expect(Self.problems(c).first == .tooManyDisks(17))

        c = Self.flat(image)
        c.console = .file(path: dir.file("no/such/dir/console.log"))
        #expect(
            Self.problems(c) == [
                .consolePath(
                    dir.file("no/such/dir/console.log"),
                    reason: "its directory \(dir.file("no/such/dir")) does not exist")
            ])
        let long = "/tmp/" + String(repeating: "s", count: 110)
        c.console = .unixSocket(path: long)
        #expect(Self.problems(c) == [.consolePath(long, reason: "longer than a Unix socket path may be (107 bytes)")])
        c.console = .unixSocket(path: disk)
        #expect(
            Self.problems(c) == [
                .consolePath(disk, reason: "a file that is not a socket is there (it is never replaced)")
            ])

        c = Self.flat(image)
        c.scheduling = SchedulingConfiguration(
            priority: 5000, capQuotaNanoseconds: 0, realTimeBudgetNanoseconds: 20_000_000,
            realTimePeriodNanoseconds: 10_000_000)
        #expect(
            Self.problems(c) == [
                .scheduling("priority 5000: in -1000...1000"),
                .scheduling("cap 0 ns per 100000000 ns: both must be positive"),
                .scheduling("real-time budget 20000000 ns per 10000000 ns: positive, at most the period"),
            ])

        c = Self.flat(image)
        c.hiddenCPUIDFeatures = ["cx16", "cx61"]
        #expect(Self.problems(c) == [.cpuidFeatures(.unknownFeature("cx61", suggestion: "cx16"))])
    }
}
