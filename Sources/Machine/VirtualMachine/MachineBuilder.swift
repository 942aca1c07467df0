import BlockStorage
import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import LinuxLoader
import ResourceAllocator
import SystemPackage
import VCPU
import VCPUScheduler
import VHD

#if canImport(Glibc)
    import Glibc
#endif

/// What lives as long as the VM without being used by it directly: the irqfd eventfds of the
/// legacy devices and the console's file or socket.
final class KeepAlive: Sendable {
    let interruptLines: [EventFD]
    let consoleFile: FileDescriptor?
    let consoleSocket: SocketConsole?
    let outputPump: StandardOutputPump?

    init(
        interruptLines: [EventFD], consoleFile: FileDescriptor?, consoleSocket: SocketConsole?,
        outputPump: StandardOutputPump?
    ) {
        self.interruptLines = interruptLines
        self.consoleFile = consoleFile
        self.consoleSocket = consoleSocket
        self.outputPump = outputPump
    }

    deinit {
        try? consoleFile?.close()
        consoleSocket?.close()
    }
}

/// Where the boot structures go (Firecracker's addresses, all below 1 MiB).
enum BootAddresses {
    /// The PVH `hvm_start_info`, its memory map and module list.
    static let startInfo = GuestAddress(0x6000)
    /// The zero page (`struct boot_params`).
    static let zeroPage = GuestAddress(0x7000)
    /// The command line.
    static let commandLine = GuestAddress(0x2_0000)
    /// The ACPI power control port (sleep control and status, reset register).
    static let powerControlPort: UInt16 = 0x600
}

/// Builds a ``VirtualMachine``'s parts from a validated configuration, step by step; each step's
/// failure names it.
struct MachineBuilder {
    let configuration: VirtualMachineConfiguration
    let controller: LifecycleController
    let devices: [DeviceAttachment]
    /// The Linux kernel validation parsed (`nil` for a flat binary).
    let kernel: KernelImage?
    /// The shared dispatcher the vCPUs run under, if any (they are then `GatedVCPU`s).
    let membership: SchedulerMembership?
    /// The embedder's loop for the devices, if it shares one.
    let eventLoop: EventLoop?

    struct Parts {
        var kvm: KVMSystem
        var vm: KVMVirtualMachine
        var bridge: GuestMemoryBridge<KVMVirtualMachine>
        var layout: X86_64Layout
        var memory: GuestMemoryMap
        var runners: [VCPURunner<KVMVirtualCPU>]
        /// The runners' gated wrappers, when a shared dispatcher schedules them.
        var gated: [GatedVCPU<KVMVirtualCPU>]
        var serial: Serial16550
        var disks: [MachineDisk]
        var virtioConsole: MachineVirtioDevice<VirtioConsoleDevice>?
        var entropy: MachineVirtioDevice<VirtioEntropyDevice>?
        var vsock: MachineVirtioDevice<VirtioVsockDevice>?
        var networks: [MachineVirtioDevice<VirtioNetDevice>]
        var deviceService: DeviceService
        var diskPlacements: [DevicePlacement]
        var bootSummary: String
        var keepAlive: KeepAlive
    }

    /// Runs `body`, naming `step` in its error.
    func step<R>(_ step: String, _ body: () throws -> R) throws(VirtualMachineError) -> R {
        do {
            return try body()
        } catch let error as VirtualMachineError {
            throw error
        } catch {
            throw .build(step: step, "\(error)")
        }
    }

    func build() throws(VirtualMachineError) -> Parts {
        let c = configuration
        // The platform: RAM, the 32-bit MMIO window, the ISA IRQs the legacy devices use, a
        // virtio-mmio window and interrupt per disk.
        var layout = try step("layout") { try X86_64Layout(memorySize: c.memorySize) }
        DevicePlacement.reservePlatformIRQs(in: &layout)
        let diskPlacements = try step("disk placement") { () throws -> [DevicePlacement] in
            if !layout.legacyIRQs.isAllocated(8) { try layout.legacyIRQs.reserve(8) }  // the CMOS clock
            return try c.disks.map { _ in try DevicePlacement.allocate(in: &layout) }
        }
        // Then the virtio console, the entropy device and the vsock device, when configured.
        let consolePlacement = try step("virtio console placement") {
            try c.virtioConsole.map { _ in try DevicePlacement.allocate(in: &layout) }
        }
        let entropyPlacement = try step("entropy device placement") {
            try c.entropy.map { _ in try DevicePlacement.allocate(in: &layout) }
        }
        let vsockPlacement = try step("vsock device placement") {
            try c.vsock.map { _ in try DevicePlacement.allocate(in: &layout) }
        }
        let networkPlacements = try step("network card placement") {
            try c.networks.map { _ in try DevicePlacement.allocate(in: &layout) }
        }
        let kvm = try step("KVM") { try KVMSystem() }
        let vm = try step("KVM VM") { () throws -> KVMVirtualMachine in
            let vm = try kvm.createVM()
            try vm.prepareForX86(irqChip: .full)
            try vm.createPIT2(flags: 1)  // KVM_PIT_SPEAKER_DUMMY: port 0x61 answered in the kernel
            return vm
        }
        let (memory, bridge) = try step("guest memory") {
            try GuestMemoryBridge.mapRAM(
                on: vm, ranges: layout.ram.map { (base: $0.range.start, size: $0.range.size) },
                options: Self.memoryOptions(c))
        }

        // The console and the legacy devices, each interrupt an irqfd.
        let (consoleOutput, consoleFile, consoleSocket) = try step("console") { try Self.console(c.console) }
        let portIO = PortIOBus()
        let mmio = MMIOBus()
        let (com1IRQ, keyboardIRQ) = try step("interrupt lines") { () throws -> (EventFD, EventFD) in
            let com1 = try EventFD(nonBlocking: true), keyboard = try EventFD(nonBlocking: true)
            try vm.registerIRQFD(com1, gsi: 4, resample: nil)
            try vm.registerIRQFD(keyboard, gsi: 1, resample: nil)
            return (com1, keyboard)
        }
        let serial = Serial16550(output: consoleOutput, interrupt: { com1IRQ.trigger() })
        try step("console") { try consoleSocket?.start(serial: serial) }
        let controller = self.controller
        try step("legacy devices") {
            try portIO.insert(serial, base: 0x3F8, size: 8)
            let i8042 = I8042Controller(
                reset: { controller.finish(.reset(.keyboardController), synchronously: false) },
                interrupt: { keyboardIRQ.trigger() })
            try portIO.insert(i8042, base: 0x60, size: 5)
            try portIO.insert(CMOSClock(), base: 0x70, size: 2)
            try portIO.insert(DebugPort(), base: 0x80, size: 1)
            let power = ACPIPowerControl(
                shutdown: { controller.finish(.poweredOff, synchronously: false) },
                reset: { controller.finish(.reset(.acpi), synchronously: false) })
            try portIO.insert(power, base: UInt64(BootAddresses.powerControlPort), size: 1)
        }

        try step("devices") {
            for attachment in devices {
                switch attachment.bus {
                case .portIO(let device): try portIO.insert(device, base: attachment.base, size: attachment.size)
                case .mmio(let device): try mmio.insert(device, base: attachment.base, size: attachment.size)
                }
            }
        }

        // Disks.
        var disks: [MachineDisk] = []
        for (index, (disk, placement)) in zip(c.disks, diskPlacements).enumerated() {
            disks.append(
                try step("disk \(index) (\(disk.path))") {
                    let device = try openDiskImage(
                        path: disk.path, readOnly: disk.readOnly, format: disk.format,
                        among: VHDDiskImageFormat.standardFormats)
                    let block = try MachineVirtioDevice(
                        VirtioBlockDevice(
                            disk: device, serial: "\(c.name)-disk\(index)",
                            rateLimiter: try disk.rateLimits.map { try RateLimiter($0) }), placement: placement,
                        vm: vm, bus: mmio, memory: memory, c)
                    return MachineDisk(path: disk.path, device: device, block: block.device, transport: block.transport)
                })
        }
        var outputPump: StandardOutputPump?
        var virtioConsole: MachineVirtioDevice<VirtioConsoleDevice>?
        if let destination = c.virtioConsole, let placement = consolePlacement {
            virtioConsole = try step("virtio console") {
                let output: (any ConsoleOutput)?
                switch destination {
                case .standardOutput:
                    let pump = try StandardOutputPump()
                    outputPump = pump
                    output = pump.endpoint
                case .file(let path):
                    let fd = try FileDescriptor.open(
                        path, .writeOnly, options: [.create, .append, .closeOnExec],
                        permissions: [.ownerReadWrite, .groupRead, .otherRead])
                    defer { try? fd.close() }
                    output = try FileDescriptorConsole(fd)
                case .none, .unixSocket:  // a Unix socket was refused by validation
                    output = nil
                }
                // Input is typed by the embedder (`VirtualMachine.virtioConsoleInput`).
                let device = try VirtioConsoleDevice(output: output, input: try ConsoleInputBuffer())
                return try MachineVirtioDevice(device, placement: placement, vm: vm, bus: mmio, memory: memory, c)
            }
        }
        let entropy = try step("entropy device") {
            try c.entropy.flatMap { configuration in
                try entropyPlacement.map {
                    try MachineVirtioDevice(
                        VirtioEntropyDevice(maxBytesPerRequest: configuration.maxBytesPerRequest), placement: $0,
                        vm: vm, bus: mmio, memory: memory, c)
                }
            }
        }
        let vsock = try step("vsock device (\(c.vsock?.hostSocketPath ?? ""))") {
            try c.vsock.flatMap { configuration in
                try vsockPlacement.map {
                    try MachineVirtioDevice(
                        VirtioVsockDevice(
                            guestCID: configuration.guestCID, hostSocketPath: configuration.hostSocketPath),
                        placement: $0, vm: vm, bus: mmio, memory: memory, c)
                }
            }
        }
        var networks: [MachineVirtioDevice<VirtioNetDevice>] = []
        for (index, (network, placement)) in zip(c.networks, networkPlacements).enumerated() {
            networks.append(
                try step("network card \(index) (TAP \(network.tapName))") {
                    let tap = try TapDevice(name: network.tapName)
                    let device = try VirtioNetDevice(
                        mac: network.mac ?? Self.mac(vm: c.name, card: index), backend: TapNetworkBackend(tap),
                        receiveLimiter: try network.receiveLimits.map { try RateLimiter($0) },
                        transmitLimiter: try network.transmitLimits.map { try RateLimiter($0) })
                    return try MachineVirtioDevice(device, placement: placement, vm: vm, bus: mmio, memory: memory, c)
                })
        }
        let transports =
            disks.map(\.transport)
            + [virtioConsole?.transport, entropy?.transport, vsock?.transport].compactMap { $0 }
            + networks.map(\.transport)
        let deviceService = try step("device event loops") {
            try DeviceService(c.deviceService, transports: transports, shared: eventLoop, name: c.name)
        }

        // The boot image, then the vCPUs.
        let boot = try loadBoot(
            layout: layout, memory: memory, diskPlacements: diskPlacements,
            otherPlacements: [consolePlacement, entropyPlacement, vsockPlacement].compactMap { $0 } + networkPlacements,
            vsockPlacement: vsockPlacement, networkPlacement: networkPlacements.first)
        let template = try step("CPUID template") {
            c.hiddenCPUIDFeatures.isEmpty
                ? nil : try CPUIDTemplate(hidingNames: c.hiddenCPUIDFeatures.joined(separator: ","))
        }
        let supported = try step("CPUID") { try kvm.supportedCPUID() }
        var runners: [VCPURunner<KVMVirtualCPU>] = []
        var gated: [GatedVCPU<KVMVirtualCPU>] = []
        for index in 0..<c.vcpuCount {
            runners.append(
                try step("vCPU \(index)") {
                    let vcpu = try vm.createVCPU(id: UInt64(index))
                    try vcpu.setCPUID(
                        CPUIDBuilder.entries(
                            from: supported, apicID: UInt32(index),
                            topology: CPUTopology(coresPerPackage: c.vcpuCount), template: template))
                    try X86Setup.configureFPU(vcpu)
                    try X86Setup.configureBootMSRs(vcpu)
                    try X86Setup.configureLAPIC(vcpu)
                    try boot.setUp(vcpu, index, memory)
                    if let membership {
                        // The dispatcher starts and parks the runner; it runs only in its slices.
                        gated.append(GatedVCPU(id: membership.id(index), vcpu: vcpu, portIO: portIO, mmio: mmio))
                        return gated[index].runner
                    }
                    return VCPURunner(vcpu: vcpu, portIO: portIO, mmio: mmio)
                })
        }
        return Parts(
            kvm: kvm, vm: vm, bridge: bridge, layout: layout, memory: memory, runners: runners, gated: gated,
            serial: serial,
            disks: disks, virtioConsole: virtioConsole, entropy: entropy, vsock: vsock, networks: networks,
            deviceService: deviceService,
            diskPlacements: diskPlacements, bootSummary: boot.summary,
            keepAlive: KeepAlive(
                interruptLines: [com1IRQ, keyboardIRQ], consoleFile: consoleFile, consoleSocket: consoleSocket,
                outputPump: outputPump))
    }

    /// What booting put in memory, and how each vCPU starts.
    struct Boot {
        var summary: String
        var setUp: (KVMVirtualCPU, Int, GuestMemoryMap) throws -> Void
    }

    /// A locally administered MAC address for card `card` of the VM `vm` (`52:54:00` and three
    /// bytes of a hash of both): stable across runs of the same configuration.
    static func mac(vm: String, card: Int) -> MACAddress {
        var hash: UInt32 = 2_166_136_261  // FNV-1a
        for byte in Array("\(vm)/\(card)".utf8) { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return .local(hash)
    }

    /// `otherPlacements`: the virtio console's, the entropy device's, the vsock device's and the
    /// network cards', in that order, each when configured (for the ACPI tables; the flat-binary ABI takes the
    /// console's as the first when there is a console, and the vsock device's from
    /// `vsockPlacement`).
    func loadBoot(
        layout: X86_64Layout, memory: GuestMemoryMap, diskPlacements: [DevicePlacement],
        otherPlacements: [DevicePlacement], vsockPlacement: DevicePlacement?, networkPlacement: DevicePlacement?
    ) throws(VirtualMachineError) -> Boot {
        switch configuration.boot {
        case .flatBinary(let image):
            try step("boot image (\(image.path))") {
                _ = try Self.readFile(image.path, into: memory) { _ in GuestAddress(image.loadAddress) }
            }
            let entry = image.entry
            let firstDisk = diskPlacements.first, vcpuCount = configuration.vcpuCount
            let console = configuration.virtioConsole == nil ? nil : otherPlacements.first
            return Boot(
                summary:
                    "flat binary \(image.path) at 0x\(String(image.loadAddress, radix: 16)), entry 0x\(String(entry, radix: 16)) (\(image.mode) mode)",
                setUp: { vcpu, index, memory in
                    switch image.mode {
                    case .real:
                        try X86Setup.configureRealMode(vcpu, codeSegment: UInt16(entry >> 4), ip: UInt16(entry & 0xF))
                    case .protected:
                        try X86Setup.configureProtectedMode(vcpu, memory: memory, entry: UInt32(entry))
                    case .long:
                        try X86Setup.configureLongMode(vcpu, memory: memory, entry: entry, identityMap: 1 << 32)
                    }
                    // The flat-binary start ABI (see FlatBinaryBoot).
                    var regs = try vcpu.registers()
                    regs.rdi = UInt64(index)
                    regs.rsi = firstDisk?.mmioBase ?? 0
                    regs.rdx = UInt64(firstDisk?.gsi ?? 0)
                    regs.rcx = UInt64(vcpuCount)
                    regs.r8 = console?.mmioBase ?? 0
                    regs.r9 = UInt64(console?.gsi ?? 0)
                    regs.r10 = vsockPlacement?.mmioBase ?? 0
                    regs.r11 = UInt64(vsockPlacement?.gsi ?? 0)
                    regs.r12 = networkPlacement?.mmioBase ?? 0
                    regs.r13 = UInt64(networkPlacement?.gsi ?? 0)
                    if let base = image.stackBase {
                        regs.rsp = base + UInt64(index + 1) * image.stackSize
                        regs.rbp = regs.rsp
                    }
                    try vcpu.setRegisters(regs)
                    // Every vCPU starts at the entry: application processors do not wait for INIT/SIPI.
                    if index > 0 { try vcpu.setMPState(.runnable) }
                })
        case .linux(let linux):
            return try loadLinux(
                linux, layout: layout, memory: memory, virtioPlacements: diskPlacements + otherPlacements)
        }
    }

    func loadLinux(
        _ linux: LinuxBoot, layout: X86_64Layout, memory: GuestMemoryMap, virtioPlacements: [DevicePlacement]
    ) throws(VirtualMachineError) -> Boot {
        // The image validation parsed (a Linux boot always has one).
        guard let image = kernel else { throw .build(step: "kernel (\(linux.kernel))", "not validated") }
        let loaded = try step("kernel (\(linux.kernel))") { try image.load(into: memory) }
        let pvhEntry = loaded.pvhEntry.flatMap { $0.rawValue <= UInt64(UInt32.max) ? $0 : nil }
        let usePVH = linux.entry == .pvh || (linux.entry == .auto && pvhEntry != nil)
        guard let entry = usePVH ? pvhEntry : loaded.entry64 else {
            throw .build(step: "kernel (\(linux.kernel))", "no \(usePVH ? "PVH" : "64-bit") entry")
        }
        let memoryMap = try step("memory map") { try E820Map.forLayout(layout) }
        var initrd: GuestAddressRange?
        if let path = linux.initrd {
            initrd = try step("initrd (\(path))") {
                try Self.readFile(path, into: memory) { size in
                    try BootParameters.placeInitrd(size: size, kernel: loaded, memoryMap: memoryMap).start
                }
            }
        }
        let devices: [ACPIDevice] =
            [.serial(port: 0x3F8, irq: 4), .keyboardController, .realTimeClock]
            + virtioPlacements.map {
                .virtioMMIO(base: UInt32($0.mmioBase), size: UInt32($0.mmioSize), gsi: $0.gsi)
            }
        let c = configuration
        let rsdp = try step("ACPI tables") {
            try ACPITables(vcpuCount: c.vcpuCount, devices: devices, powerControlPort: BootAddresses.powerControlPort)
                .write(at: ACPITables.defaultAddress, into: memory)
        }
        let parameters = BootParameters(
            commandLine: linux.commandLine, memoryMap: memoryMap, initrd: initrd, acpiRSDP: rsdp)
        try step("boot parameters") {
            if usePVH {
                try PVHStartInfo.write(
                    parameters, kernel: loaded, at: BootAddresses.startInfo,
                    commandLineAddress: BootAddresses.commandLine, into: memory)
            } else {
                try parameters.write(
                    for: loaded, zeroPage: BootAddresses.zeroPage, commandLineAddress: BootAddresses.commandLine,
                    into: memory)
            }
        }
        let summary =
            "\(loaded.kind) \(linux.kernel) at 0x\(String(loaded.range.start.rawValue, radix: 16)), "
            + "entry 0x\(String(entry.rawValue, radix: 16)) (\(usePVH ? "PVH" : "64-bit boot protocol"))"
            + (initrd.map { ", initrd at \($0)" } ?? "")
        return Boot(
            summary: summary,
            setUp: { vcpu, index, memory in
                // The boot vCPU at the entry; the others wait for the kernel's INIT/SIPI in the
                // in-kernel LAPIC, as on a PC.
                guard index == 0 else { return }
                if usePVH {
                    try X86Setup.configurePVH(
                        vcpu, memory: memory, entry: UInt32(entry.rawValue), startInfo: BootAddresses.startInfo)
                } else {
                    try X86Setup.configureLinux64(
                        vcpu, memory: memory, entry: entry.rawValue, zeroPage: BootAddresses.zeroPage)
                }
            })
    }

    /// Reads the whole file at `path` straight into guest memory (no host-side copy), at the
    /// address `place` chooses for its size; the size is the open file's, so what is placed is
    /// what is read. Returns where it went.
    static func readFile(
        _ path: String, into memory: GuestMemoryMap, at place: (UInt64) throws -> GuestAddress
    ) throws -> GuestAddressRange {
        let fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        defer { try? fd.close() }
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else { throw Errno(rawValue: errno) }
        let size = UInt64(info.st_size)
        let start = try place(size)
        try memory.readExactly(from: fd, at: 0, into: start, count: Int(size))
        return try GuestAddressRange(start: start, count: size)
    }

    static func memoryOptions(_ c: VirtualMachineConfiguration) -> MmapRegionOptions {
        switch c.memoryBacking {
        case .anonymous: MmapRegionOptions()
        case .memfd: MmapRegionOptions(backing: .memfd(name: "swift-vmm-\(c.name)"))
        case .hugePages: MmapRegionOptions(hugePages: .hugetlb)
        case .transparentHugePages: MmapRegionOptions(hugePages: .transparent)
        }
    }

    /// The console's output closure and, for a file or a socket, what the VM then owns.
    static func console(_ console: ConsoleConfiguration) throws -> (
        @Sendable (UInt8) -> Void, FileDescriptor?, SocketConsole?
    ) {
        switch console {
        case .standardOutput: return (serialOutput(toDescriptor: 1), nil, nil)
        case .none: return ({ _ in }, nil, nil)
        case .file(let path):
            let fd = try FileDescriptor.open(
                path, .writeOnly, options: [.create, .append, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            return (serialOutput(toDescriptor: fd.rawValue), fd, nil)
        case .unixSocket(let path):
            let socket = try SocketConsole(path: path)
            return (socket.output, nil, socket)
        }
    }
}
