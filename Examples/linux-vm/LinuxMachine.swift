import BlockStorage
import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import LinuxLoader
import ResourceAllocator
import Scheduling
import Synchronization
import VCPU
import VHD

/// What `linux-vm` boots: every choice the command line makes, validated before anything is
/// created.
struct BootConfiguration: Sendable {
    enum Entry: String, Sendable, CaseIterable {
        /// PVH for an ELF kernel with the Xen note, the 64-bit boot protocol otherwise.
        case auto
        /// Linux's 64-bit boot protocol (zero page in RSI).
        case linux64
        /// The PVH entry (32-bit, `hvm_start_info` in EBX); ELF kernels with the Xen note only.
        case pvh
    }

    var kernelPath: String
    var initrdPath: String?
    var commandLine: String
    var memorySize: UInt64
    var vcpuCount: Int
    var diskPath: String?
    var readOnlyDisk = false
    var entry = Entry.auto
    var cpuidTemplate: CPUIDTemplate?

    /// The most vCPUs: what the ACPI MADT's 8-bit APIC ids and one package's topology leaves allow.
    static let maximumVCPUs = 254
    /// The least memory a kernel boots in here, and the most this example maps.
    static let memoryRange: ClosedRange<UInt64> = (64 << 20)...(64 << 30)
}

/// Where the boot structures go (Firecracker's addresses, all below the kernel at 16 MiB).
enum BootAddresses {
    /// The PVH `hvm_start_info`, its memory map and module list.
    static let startInfo = GuestAddress(0x6000)
    /// The zero page (`struct boot_params`).
    static let zeroPage = GuestAddress(0x7000)
    /// The command line.
    static let commandLine = GuestAddress(0x2_0000)
}

/// A Linux VM built from the package's targets: guest RAM from the platform layout, the in-kernel
/// IRQ chip and PIT, the kernel (bzImage or vmlinux) and initrd loaded by `LinuxLoader`, the
/// zero page or `hvm_start_info`, ACPI tables describing every vCPU and device, the legacy
/// devices a kernel probes (COM1, i8042, CMOS clock, port 0x80) and an optional virtio-blk disk.
final class LinuxMachine {
    let configuration: BootConfiguration
    let kvm: KVMSystem
    let vm: KVMVirtualMachine
    let memory: GuestMemoryMap
    let bridge: GuestMemoryBridge<KVMVirtualMachine>
    let layout: X86_64Layout
    let kernel: LoadedKernel
    let parameters: BootParameters
    /// The entry the boot vCPU starts at, and the protocol.
    let entry: (address: GuestAddress, pvh: Bool)
    let runners: [VCPURunner<KVMVirtualCPU>]
    let serial: Serial16550
    /// The virtio-blk disk, when there is one.
    let disk: (device: any BlockDevice, transport: VirtioMMIOTransport, worker: VirtioQueueWorker)?
    /// The first reason to stop.
    private let stopSignal = StopSignal()
    /// Interrupt lines kept alive for KVM's irqfds (COM1 on GSI 4, the i8042 on GSI 1).
    private let interruptLines: [EventFD]

    init(_ configuration: BootConfiguration, console: @escaping @Sendable (UInt8) -> Void) throws {
        self.configuration = configuration
        // The platform: RAM, the 32-bit MMIO window, the ISA IRQs the legacy devices use.
        var layout = try X86_64Layout(memorySize: configuration.memorySize)
        DevicePlacement.reservePlatformIRQs(in: &layout)
        if !layout.legacyIRQs.isAllocated(8) { try layout.legacyIRQs.reserve(8) }  // the CMOS clock
        let diskPlacement = configuration.diskPath == nil ? nil : try DevicePlacement.allocate(in: &layout)
        self.layout = layout

        kvm = try KVMSystem()
        vm = try kvm.createVM()
        try vm.prepareForX86(irqChip: .full)
        try vm.createPIT2(flags: 1)  // KVM_PIT_SPEAKER_DUMMY: port 0x61 answered in the kernel
        (memory, bridge) = try GuestMemoryBridge.mapRAM(
            on: vm, ranges: layout.ram.map { (base: $0.range.start, size: $0.range.size) })

        // The kernel, the initrd, the tables and what the kernel is told.
        do {
            kernel = try KernelImage(contentsOf: configuration.kernelPath).load(into: memory)
        } catch {
            let text = "\(error)"
            throw LinuxVMError(text.contains(configuration.kernelPath) ? text : "\(configuration.kernelPath): \(text)")
        }
        entry = try Self.chooseEntry(configuration.entry, kernel: kernel, path: configuration.kernelPath)
        let memoryMap = try E820Map.forLayout(layout)
        var initrd: GuestAddressRange?
        if let path = configuration.initrdPath {
            initrd = try Self.loadInitrd(path: path, kernel: kernel, memoryMap: memoryMap, into: memory)
        }
        var devices: [ACPIDevice] = [.serial(port: 0x3F8, irq: 4), .keyboardController, .realTimeClock]
        if let diskPlacement {
            devices.append(
                .virtioMMIO(
                    base: UInt32(diskPlacement.mmioBase), size: UInt32(diskPlacement.mmioSize),
                    gsi: diskPlacement.gsi))
        }
        let rsdp = try ACPITables(
            vcpuCount: configuration.vcpuCount, devices: devices, powerControlPort: Self.powerControlPort
        ).write(at: ACPITables.defaultAddress, into: memory)
        parameters = BootParameters(
            commandLine: configuration.commandLine, memoryMap: memoryMap, initrd: initrd, acpiRSDP: rsdp)
        if entry.pvh {
            try PVHStartInfo.write(
                parameters, kernel: kernel, at: BootAddresses.startInfo, commandLineAddress: BootAddresses.commandLine,
                into: memory)
        } else {
            try parameters.write(
                for: kernel, zeroPage: BootAddresses.zeroPage, commandLineAddress: BootAddresses.commandLine,
                into: memory)
        }

        // Legacy devices, each interrupt an irqfd.
        let portIO = PortIOBus()
        let mmio = MMIOBus()
        let com1IRQ = try EventFD(nonBlocking: true)
        let keyboardIRQ = try EventFD(nonBlocking: true)
        try vm.registerIRQFD(com1IRQ, gsi: 4, resample: nil)
        try vm.registerIRQFD(keyboardIRQ, gsi: 1, resample: nil)
        interruptLines = [com1IRQ, keyboardIRQ]
        serial = Serial16550(output: console, interrupt: { com1IRQ.trigger() })
        try portIO.insert(serial, base: 0x3F8, size: 8)
        let stopSignal = self.stopSignal
        let i8042 = I8042Controller(
            reset: { stopSignal.fire(.rebootRequested) }, interrupt: { keyboardIRQ.trigger() })
        try portIO.insert(i8042, base: 0x60, size: 5)
        try portIO.insert(CMOSClock(), base: 0x70, size: 2)
        try portIO.insert(DebugPort(), base: 0x80, size: 1)
        let power = ACPIPowerControl(
            shutdown: { stopSignal.fire(.poweredOff) }, reset: { stopSignal.fire(.acpiReset) })
        try portIO.insert(power, base: UInt64(Self.powerControlPort), size: 1)

        if let diskPlacement, let path = configuration.diskPath {
            let device = try openDiskImage(
                path: path, readOnly: configuration.readOnlyDisk, among: VHDDiskImageFormat.standardFormats)
            let block = try VirtioBlockDevice(disk: device, serial: "linux-vm-disk")
            let transport = try VirtioMMIOTransport(
                backend: block, memory: memory, interrupt: EventFD(nonBlocking: true))
            try transport.attach(to: vm, bus: mmio, placement: diskPlacement)
            disk = (device, transport, try VirtioQueueWorker(transport: transport))
        } else {
            disk = nil
        }

        // vCPUs: CPUID, FPU, MSRs and LAPIC for each; the boot vCPU at the entry. The others
        // wait for the kernel's INIT/SIPI in the in-kernel LAPIC, as on a PC.
        let supported = try kvm.supportedCPUID()
        var runners: [VCPURunner<KVMVirtualCPU>] = []
        for index in 0..<configuration.vcpuCount {
            let vcpu = try vm.createVCPU(id: UInt64(index))
            try vcpu.setCPUID(
                CPUIDBuilder.entries(
                    from: supported, apicID: UInt32(index),
                    topology: CPUTopology(coresPerPackage: configuration.vcpuCount),
                    template: configuration.cpuidTemplate))
            try X86Setup.configureFPU(vcpu)
            try X86Setup.configureBootMSRs(vcpu)
            try X86Setup.configureLAPIC(vcpu)
            if index == 0 {
                if entry.pvh {
                    try X86Setup.configurePVH(
                        vcpu, memory: memory, entry: UInt32(entry.address.rawValue),
                        startInfo: BootAddresses.startInfo)
                } else {
                    try X86Setup.configureLinux64(
                        vcpu, memory: memory, entry: entry.address.rawValue, zeroPage: BootAddresses.zeroPage)
                }
            }
            runners.append(VCPURunner(vcpu: vcpu, portIO: portIO, mmio: mmio))
        }
        self.runners = runners
    }

    /// The ACPI power control port (sleep control and status, reset register).
    static let powerControlPort: UInt16 = 0x600

    /// The entry `requested` names for `kernel`.
    static func chooseEntry(_ requested: BootConfiguration.Entry, kernel: LoadedKernel, path: String) throws
        -> (address: GuestAddress, pvh: Bool)
    {
        switch requested {
        case .pvh:
            guard let pvh = kernel.pvhEntry else {
                throw LinuxVMError("\(path): no PVH entry (XEN_ELFNOTE_PHYS32_ENTRY): use --entry linux64")
            }
            return (pvh, true)
        case .linux64:
            guard let entry = kernel.entry64 else { throw LinuxVMError("\(path): no 64-bit entry") }
            return (entry, false)
        case .auto:
            if let pvh = kernel.pvhEntry, pvh.rawValue <= UInt64(UInt32.max) { return (pvh, true) }
            guard let entry = kernel.entry64 else { throw LinuxVMError("\(path): no usable entry point") }
            return (entry, false)
        }
    }

    /// Reads the initrd at `path` into guest memory where ``BootParameters`` places it; the
    /// file's size is checked against the room there before it is read.
    static func loadInitrd(path: String, kernel: LoadedKernel, memoryMap: E820Map, into memory: GuestMemoryMap) throws
        -> GuestAddressRange
    {
        let size: UInt64
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        } catch {
            throw LinuxVMError("\(path): cannot read the initrd: \(error.localizedDescription)")
        }
        let range: GuestAddressRange
        do {
            range = try BootParameters.placeInitrd(size: size, kernel: kernel, memoryMap: memoryMap)
        } catch {
            throw LinuxVMError("\(path): \(error)")
        }
        guard let data = FileManager.default.contents(atPath: path), UInt64(data.count) == size else {
            throw LinuxVMError("\(path): the initrd changed or could not be read")
        }
        try data.withUnsafeBytes { try memory.write(contentsOf: $0, at: range.start) }
        return range
    }

    /// Runs until the guest stops itself, a vCPU fails, or `timeout` seconds pass; then stops
    /// everything and returns why, with each vCPU's statistics.
    func run(timeout: Double) throws -> (reason: StopReason, elapsed: Double, accounts: [VCPUReport]) {
        let start = DispatchTime.now()
        try disk?.worker.start()
        for (index, runner) in runners.enumerated() {
            try runner.start()
            let stopSignal = self.stopSignal, memory = self.memory
            // One waiting thread per vCPU: the run ends at the first vCPU that stops by itself.
            Thread.detachNewThread {
                let outcome = runner.waitUntilStopped()
                let stop = StopReason.from(outcome, vcpu: index) { instruction(of: runner.vcpu, in: memory) }
                if let stop { stopSignal.fire(stop) }
            }
        }
        if !stopSignal.wait(seconds: timeout) { stopSignal.fire(.timeout(seconds: timeout)) }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        // Thread statistics while the threads still exist, then stop them.
        let schedstats = runners.map { runner in runner.threadID.flatMap { try? ThreadSchedStat.read(threadID: $0) } }
        for runner in runners { _ = runner.stop() }
        disk?.worker.stop()
        let reports = runners.enumerated().map { index, runner in
            VCPUReport(
                index: index, exits: runner.statistics.totalCount,
                portIO: runner.statistics.count(.ioIn) + runner.statistics.count(.ioOut),
                mmio: runner.statistics.count(.mmioRead) + runner.statistics.count(.mmioWrite),
                schedstat: schedstats[index])
        }
        return (stopSignal.reason ?? .timeout(seconds: timeout), elapsed, reports)
    }

}

/// The stopped vCPU's RIP and, when its page tables map it to guest RAM, the 15 bytes there.
func instruction(of vcpu: KVMVirtualCPU, in memory: GuestMemoryMap) -> (rip: UInt64, bytes: [UInt8]?)? {
    guard let rip = try? vcpu.registers().rip else { return nil }
    var linear = rip
    if let sregs = try? vcpu.specialRegisters(), sregs.cr0 & 1 == 0 || sregs.efer & 0x400 == 0 {
        linear &+= sregs.cs.base  // real or protected mode: CS base + EIP
    }
    guard let translation = try? vcpu.translate(linear), translation.valid else { return (rip, nil) }
    return (rip, try? memory.readBytes(count: 15, at: GuestAddress(translation.physicalAddress)))
}

/// The first reason to stop, kept once, and a wake-up for whoever waits for it.
final class StopSignal: Sendable {
    private let first = Mutex<StopReason?>(nil)
    private let semaphore = DispatchSemaphore(value: 0)

    /// Records `reason` unless one was recorded before, and wakes the waiter.
    func fire(_ reason: StopReason) {
        first.withLock { if $0 == nil { $0 = reason } }
        semaphore.signal()
    }

    /// Waits up to `seconds` for a reason; `false` on timeout.
    func wait(seconds: Double) -> Bool { semaphore.wait(timeout: .now() + seconds) == .success }

    /// The first reason recorded.
    var reason: StopReason? { first.withLock { $0 } }
}

/// One vCPU's share of the run: exits, and from the kernel's schedstat T_cpu and T_wait.
struct VCPUReport: Sendable {
    var index: Int
    var exits: UInt64
    var portIO: UInt64
    var mmio: UInt64
    var schedstat: ThreadSchedStat?
}

/// A failure of `linux-vm` itself, naming the file at fault.
struct LinuxVMError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
