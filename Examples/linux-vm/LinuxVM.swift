// linux-vm: boots a Linux kernel with the package's targets, the serial console on standard
// output, and ends with a line saying why it stopped.
//
//     swift run linux-vm --kernel vmlinuz --cmdline "console=ttyS0" --vcpus 2 --timeout 120
import ArgumentParser
import ExampleSupport
import Foundation
import LinuxLoader
import Scheduling
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

@main
struct LinuxVM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linux-vm",
        abstract: "Boot a Linux kernel (bzImage or ELF vmlinux) with its serial console on standard output.",
        discussion: """
            The VM has the in-kernel IRQ chip and PIT, COM1 (0x3f8, IRQ 4), an i8042, a CMOS clock, \
            port 0x80 and, with --disk, a virtio-blk disk on virtio-mmio; ACPI tables describe every \
            vCPU and device. The last line says why the VM stopped: the guest's reboot (i8042 reset or \
            triple fault), a timeout, or a KVM internal error with the failing instruction's bytes.

            Exit status: 0 when the guest stopped itself (reboot, reset), 2 on timeout, 1 on an \
            error, 64 on a usage error.
            """)

    @Option(help: ArgumentHelp("The kernel: a bzImage (vmlinuz) or an ELF vmlinux.", valueName: "file"))
    var kernel: String

    @Option(help: ArgumentHelp("An initrd (initramfs) to load below the kernel's initrd_addr_max.", valueName: "file"))
    var initrd: String?

    @Option(help: "The kernel command line.")
    var cmdline = "console=ttyS0 earlyprintk=serial,ttyS0 reboot=k panic=-1"

    @Option(
        help: ArgumentHelp(
            "Guest memory, with an optional K, M or G suffix (default 256M; 64M to 64G).", valueName: "size"),
        transform: ByteCount.argument)
    var memory = ByteCount(argument: "256M")!

    @Option(help: "Number of vCPUs (1-\(BootConfiguration.maximumVCPUs), default 1).")
    var vcpus = 1

    @Option(help: ArgumentHelp("A raw or VHD disk image, given to the guest as virtio-blk.", valueName: "file"))
    var disk: String?

    @Flag(help: "Open the disk read-only.")
    var readOnly = false

    @Option(help: "Stop the VM after this many seconds (default 300).")
    var timeout: Double = 300

    @Option(help: "The entry point: auto (PVH when an ELF kernel has one), linux64 or pvh.")
    var entry = BootConfiguration.Entry.auto

    @Option(
        help: ArgumentHelp(
            "CPUID features to hide from the guest, by /proc/cpuinfo name (comma-separated, e.g. cx16,xsave).",
            valueName: "names"))
    var cpuidHide: String?

    func validate() throws {
        guard (1...BootConfiguration.maximumVCPUs).contains(vcpus) else {
            throw ValidationError("--vcpus \(vcpus): from 1 to \(BootConfiguration.maximumVCPUs)")
        }
        guard BootConfiguration.memoryRange.contains(memory.value) else {
            throw ValidationError("--memory \(memory.value) bytes: from 64M to 64G")
        }
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout \(timeout): from 0 to 86400 s") }
        if readOnly && disk == nil { throw ValidationError("--read-only needs --disk") }
        if let cpuidHide {
            do { _ = try CPUIDTemplate(hidingNames: cpuidHide) } catch {
                throw ValidationError("--cpuid-hide: \(error)")
            }
        }
    }

    func run() throws {
        let configuration = BootConfiguration(
            kernelPath: kernel, initrdPath: initrd, commandLine: cmdline, memorySize: memory.value, vcpuCount: vcpus,
            diskPath: disk, readOnlyDisk: readOnly, entry: entry,
            cpuidTemplate: try cpuidHide.map { try CPUIDTemplate(hidingNames: $0) })
        let machine: LinuxMachine
        do {
            machine = try LinuxMachine(configuration, console: consoleOutput)
        } catch {
            printError("linux-vm: \(error)")
            throw ExitCode(1)
        }
        let entryName = machine.entry.pvh ? "PVH" : "64-bit boot protocol"
        printError(
            "linux-vm: \(machine.kernel.kind) \(kernel) at 0x\(String(machine.kernel.range.start.rawValue, radix: 16)), "
                + "entry 0x\(String(machine.entry.address.rawValue, radix: 16)) (\(entryName)); "
                + "R = \(vcpus) vCPU + \(memory.value >> 20) MiB"
                + (disk.map { " + disk \($0)" } ?? "") + (machine.parameters.initrd.map { ", initrd at \($0)" } ?? ""))
        let result: (reason: StopReason, elapsed: Double, accounts: [VCPUReport])
        do {
            result = try machine.run(timeout: timeout)
        } catch {
            printError("linux-vm: \(error)")
            throw ExitCode(1)
        }
        fflush(nil)
        for account in result.accounts {
            let cpu = account.schedstat.map { String(format: "%.1f ms", Double($0.onCPU) / 1e6) } ?? "n/a"
            let wait = account.schedstat.map { String(format: "%.1f ms", Double($0.runQueueWait) / 1e6) } ?? "n/a"
            printError(
                "linux-vm: vCPU \(account.index): \(account.exits) exits (\(account.portIO) port I/O, "
                    + "\(account.mmio) MMIO), T_cpu \(cpu), T_wait \(wait)")
        }
        printError("linux-vm: stopped after \(String(format: "%.1f", result.elapsed)) s: \(result.reason)")
        if result.reason.exitStatus != 0 { throw ExitCode(result.reason.exitStatus) }
    }
}

extension BootConfiguration.Entry: ExpressibleByArgument {}

/// The guest's serial output on standard output, flushed at each line end.
let consoleOutput: @Sendable (UInt8) -> Void = { byte in
    putchar(Int32(byte))
    if byte == 10 { fflush(nil) }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
