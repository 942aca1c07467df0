// linux-vm: boots a Linux kernel with the Machine target's VirtualMachine, the serial console on
// standard output, and ends with a line saying why it stopped.
//
//     swift run linux-vm --kernel vmlinuz --cmdline "console=ttyS0" --vcpus 2 --timeout 120
import ArgumentParser
import ExampleSupport
import Foundation
import Machine

@main
struct LinuxVM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linux-vm",
        abstract: "Boot a Linux kernel (bzImage or ELF vmlinux) with its serial console on standard output.",
        discussion: """
            The VM has the in-kernel IRQ chip and PIT, COM1 (0x3f8, IRQ 4), an i8042, a CMOS clock, \
            port 0x80, ACPI power control (0x600) and, with --disk, a virtio-blk disk on virtio-mmio; \
            ACPI tables describe every vCPU and device. The last line says why the VM stopped: the \
            guest's power-off or reboot (i8042, ACPI or triple fault), a timeout, or a KVM internal \
            error with the failing instruction's bytes.

            Exit status: 0 when the guest stopped itself, 2 on timeout, 1 on an error, 64 on a \
            usage error.
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

    @Option(help: "Number of vCPUs (1-\(VirtualMachineConfiguration.maximumVCPUs), default 1).")
    var vcpus = 1

    @Option(help: ArgumentHelp("A raw or VHD disk image, given to the guest as virtio-blk.", valueName: "file"))
    var disk: String?

    @Flag(help: "Open the disk read-only.")
    var readOnly = false

    @Option(help: "Stop the VM after this many seconds (default 300).")
    var timeout: Double = 300

    @Option(help: "The entry point: auto (PVH when an ELF kernel has one), linux64 or pvh.")
    var entry = LinuxBoot.Entry.auto

    @Option(
        help: ArgumentHelp(
            "CPUID features to hide from the guest, by /proc/cpuinfo name (comma-separated, e.g. cx16,xsave).",
            valueName: "names"))
    var cpuidHide: String?

    func validate() throws {
        guard (1...VirtualMachineConfiguration.maximumVCPUs).contains(vcpus) else {
            throw ValidationError("--vcpus \(vcpus): from 1 to \(VirtualMachineConfiguration.maximumVCPUs)")
        }
        guard ((64 << 20)...(64 << 30)).contains(memory.value) else {
            throw ValidationError("--memory \(memory.value) bytes: from 64M to 64G")
        }
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout \(timeout): from 0 to 86400 s") }
        if readOnly && disk == nil { throw ValidationError("--read-only needs --disk") }
        if let cpuidHide {
            // The configuration's own check of the names, reported as the usage error it is here.
            var names = VirtualMachineConfiguration(boot: .flatBinary(FlatBinaryBoot(path: "")))
            names.hiddenCPUIDFeatures = [cpuidHide]
            for case .cpuidFeatures(let error) in names.problems() { throw ValidationError("--cpuid-hide: \(error)") }
        }
    }

    func run() throws {
        var configuration = VirtualMachineConfiguration(
            name: "linux-vm", vcpuCount: vcpus, memorySize: memory.value,
            boot: .linux(LinuxBoot(kernel: kernel, initrd: initrd, commandLine: cmdline, entry: entry)))
        configuration.disks = disk.map { [DiskConfiguration(path: $0, readOnly: readOnly)] } ?? []
        configuration.hiddenCPUIDFeatures = cpuidHide.map { [$0] } ?? []

        let vm: VirtualMachine
        do {
            vm = try VirtualMachine(configuration: configuration)
        } catch .invalidConfiguration(let error) {
            for problem in error.problems { printError("linux-vm: \(problem)") }
            throw ExitCode(1)
        } catch {
            printError("linux-vm: \(error)")
            throw ExitCode(1)
        }
        printError(
            "linux-vm: \(vm.bootSummary); R = \(vcpus) vCPU + \(memory.value >> 20) MiB"
                + (disk.map { " + disk \($0)" } ?? ""))
        let start = Date()
        do {
            try vm.start()
        } catch {
            printError("linux-vm: \(error)")
            throw ExitCode(1)
        }
        let outcome = vm.waitUntilStopped(timeout: timeout)
        let usage = vm.vcpuUsage  // while the threads of a timed-out VM still exist
        if outcome == nil { vm.stop() }
        let elapsed = String(format: "%.1f", Date().timeIntervalSince(start))
        fflush(nil)
        for vcpu in usage {
            printError(
                "linux-vm: vCPU \(vcpu.index): \(vcpu.exits) exits (\(vcpu.ioExits) I/O), T_cpu \(milliseconds(vcpu.cpuNanoseconds)), "
                    + "T_io \(milliseconds(vcpu.ioNanoseconds)), T_wait \(milliseconds(vcpu.waitNanoseconds))")
        }
        guard let outcome else {
            printError("linux-vm: stopped after \(elapsed) s: timeout after \(timeout) s (the guest was still running)")
            throw ExitCode(2)
        }
        printError("linux-vm: stopped after \(elapsed) s: \(outcome)")
        if !outcome.isGuestRequested { throw ExitCode(1) }
    }
}

extension LinuxBoot.Entry: ExpressibleByArgument {}

/// `nanoseconds` in milliseconds with one decimal, or "n/a" (a vCPU thread that has ended).
func milliseconds(_ nanoseconds: UInt64?) -> String {
    nanoseconds.map { String(format: "%.1f ms", Double($0) / 1e6) } ?? "n/a"
}
