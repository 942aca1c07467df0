import ArgumentParser
import BlockStorage
import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import MiniVMMGuest
import ResourceAllocator
import SystemPackage
import VCPU
import VCPUScheduler
import VHD

/// The assembled VM: memory, in-kernel IRQ chip, serial console, report ports, the virtio-blk
/// device and its queue worker, and one runner per vCPU — every placement from the layout.
/// With `gated`, each runner belongs to a `GatedVCPU` and runs only while a `VCPUDispatcher`
/// grants it a slot.
final class Machine {
    static let memorySize: UInt64 = 16 << 20
    /// Where vCPU i's stack ends (stacks of 4 KiB below 0x80000).
    static func stackTop(_ index: Int) -> UInt64 { 0x70000 + UInt64(index + 1) * 0x1000 }
    static let maximumVCPUs = 16

    let kvm: KVMSystem
    let vm: KVMVirtualMachine
    let memory: GuestMemoryMap
    let bridge: GuestMemoryBridge<KVMVirtualMachine>
    let layout: X86_64Layout
    let placement: DevicePlacement
    let block: VirtioBlockDevice
    let transport: VirtioMMIOTransport
    let worker: VirtioQueueWorker
    let serial: Serial16550
    let reports = ReportDevice()
    let runners: [VCPURunner<KVMVirtualCPU>]
    /// The vCPUs as the dispatcher sees them (empty unless built `gated`); their runners are
    /// ``runners``.
    let gatedVCPUs: [GatedVCPU<KVMVirtualCPU>]

    init(disk: any BlockDevice, vcpuCount: Int, gated: Bool = false, console: @escaping @Sendable (UInt8) -> Void)
        throws
    {
        var layout = try X86_64Layout(memorySize: Self.memorySize)
        DevicePlacement.reservePlatformIRQs(in: &layout)
        placement = try DevicePlacement.allocate(in: &layout)
        let serialPorts = try layout.portIO.allocate(size: 8, policy: .exact(0x3f8))
        let reportPorts = try layout.portIO.allocate(size: ReportDevice.size, policy: .exact(0x500))
        self.layout = layout

        kvm = try KVMSystem()
        vm = try kvm.createVM()
        try vm.prepareForX86(irqChip: .full)
        (memory, bridge) = try GuestMemoryBridge.mapRAM(
            on: vm, ranges: layout.ram.map { (base: $0.range.start, size: $0.range.size) })

        let portIO = PortIOBus()
        let mmio = MMIOBus()
        serial = Serial16550(output: console)
        try portIO.insert(serial, base: serialPorts.start, size: serialPorts.size)
        try portIO.insert(reports, base: reportPorts.start, size: reportPorts.size)

        block = try VirtioBlockDevice(disk: disk, serial: "mini-vmm-disk")
        transport = try VirtioMMIOTransport(backend: block, memory: memory, interrupt: EventFD(nonBlocking: true))
        try transport.attach(to: vm, bus: mmio, placement: placement)
        worker = try VirtioQueueWorker(transport: transport)

        // The guest program, then every vCPU in long mode at its first byte.
        let load = UInt64(MINI_VMM_GUEST_LOAD_ADDRESS)
        try memory.write(
            UnsafeRawBufferPointer(start: mini_vmm_guest_bytes(), count: mini_vmm_guest_size()), at: GuestAddress(load))

        let supported = try kvm.supportedCPUID()
        var runners: [VCPURunner<KVMVirtualCPU>] = []
        var gatedVCPUs: [GatedVCPU<KVMVirtualCPU>] = []
        for index in 0..<vcpuCount {
            let vcpu = try vm.createVCPU(id: UInt64(index))
            try vcpu.setCPUID(
                CPUIDBuilder.entries(
                    from: supported, apicID: UInt32(index), topology: CPUTopology(coresPerPackage: vcpuCount)))
            // Identity-map 4 GiB so the 32-bit MMIO window is reachable.
            try X86Setup.configureLongMode(
                vcpu, memory: memory, entry: load, stackPointer: Self.stackTop(index), identityMap: 1 << 32)
            try X86Setup.configureFPU(vcpu)
            try X86Setup.configureBootMSRs(vcpu)
            try X86Setup.configureLAPIC(vcpu)
            var regs = try vcpu.registers()
            regs.rdi = UInt64(index)
            regs.rsi = placement.mmioBase
            regs.rdx = UInt64(placement.gsi)
            regs.rcx = UInt64(vcpuCount)
            try vcpu.setRegisters(regs)
            // With the in-kernel IRQ chip, application processors wait for INIT/SIPI: start them directly.
            if index > 0 { try vcpu.setMPState(.runnable) }
            if gated {
                let gatedVCPU = GatedVCPU(id: VCPUID(UInt32(index)), vcpu: vcpu, portIO: portIO, mmio: mmio)
                gatedVCPUs.append(gatedVCPU)
                runners.append(gatedVCPU.runner)
            } else {
                runners.append(VCPURunner(vcpu: vcpu, portIO: portIO, mmio: mmio))
            }
        }
        self.runners = runners
        self.gatedVCPUs = gatedVCPUs
    }

    /// How a run ended.
    enum RunEnd {
        /// The guest reported (driver done, every worker reported) or a vCPU stopped.
        case finished
        /// `pauseWhen` held: every vCPU is paused and the queue worker stopped.
        case paused
        case timedOut
    }

    /// Runs until the guest reported or a vCPU stopped — or, when `pauseWhen` says so, pauses
    /// every vCPU and stops the queue worker, leaving the machine ready for ``snapshot()``.
    /// Stops the vCPUs otherwise; returns the per-vCPU accounts. With `scheduling` (on a machine
    /// built `gated`) its dispatcher runs the vCPUs, and is stopped (every vCPU parked) when the
    /// run ends; otherwise every vCPU runs on its own thread.
    func run(timeoutSeconds: Double, scheduling: Scheduling? = nil, pauseWhen: ((ReportDevice.Reports) -> Bool)? = nil)
        throws -> (accounts: [VCPUAccount], end: RunEnd)
    {
        try worker.start()
        // Anything made available before a snapshot and not served yet.
        transport.processQueues()
        if let scheduling {
            guard gatedVCPUs.count == runners.count else {
                throw ValidationError("the machine was not built for a dispatcher")
            }
            try scheduling.start(gatedVCPUs)
        } else {
            for runner in runners { try runner.start() }
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var end = RunEnd.finished
        while true {
            let r = reports.reports
            if let pauseWhen, pauseWhen(r) {
                end = .paused
                break
            }
            if r.done != nil && r.workers.count >= runners.count - 1 { break }
            if runners.contains(where: { $0.state == .stopped }) || scheduling?.dispatcher.failure != nil { break }
            if Date() >= deadline {
                end = .timedOut
                break
            }
            usleep(1000)
        }
        if let scheduling {
            // Every vCPU parked between slices (or never started).
            scheduling.dispatcher.stop()
        } else if end == .paused {
            for runner in runners { try runner.pause() }
        }
        // The vCPUs now sit in HLT inside KVM (in-kernel IRQ chip) or are paused or parked; read
        // their thread statistics before stopping them.
        let sched = runners.map { VCPUAccount.schedstat(tid: $0.threadID) }
        if end == .paused {
            // No request in flight: the worker finishes the one it serves, then whatever was
            // notified but not taken yet is served here.
            worker.stop()
            transport.processQueues()
        } else {
            for runner in runners { runner.stop() }
            worker.stop()
        }
        let accounts = runners.enumerated().map { index, runner in
            VCPUAccount(
                index: index, exits: runner.statistics.summaries, cpuNanoseconds: sched[index]?.0,
                waitNanoseconds: sched[index]?.1)
        }
        return (accounts, end)
    }

    /// Everything but guest memory, after a run that ended `.paused`.
    func snapshot() throws -> MachineState {
        let msrIndices = try kvm.msrIndexList()
        let vcpuStates = try runners.map { runner in
            try VCPUStateSnapshot.capture(from: runner.vcpu, msrIndices: msrIndices, hasLAPIC: true)
        }
        var clock = try vm.clock()
        clock.flags = 0
        return MachineState(
            vcpus: vcpuStates, irqChips: try (0..<3).map { RawState(try vm.irqChipState(chip: $0)) },
            clock: RawState(clock), transport: transport.saveState(), reports: reports.reports)
    }

    /// Puts a saved state into this new machine (before ``run(timeoutSeconds:pauseWhen:)``).
    func restore(_ state: MachineState, memoryFile: FileDescriptor) throws {
        guard state.vcpus.count == runners.count else {
            throw ValidationError("the snapshot has \(state.vcpus.count) vCPUs")
        }
        try GuestMemorySnapshot.restore(from: memoryFile, into: memory)
        for chip in state.irqChips { try vm.setIRQChipState(chip.value) }
        try vm.setClock(state.clock.value)
        for (runner, saved) in zip(runners, state.vcpus) { try saved.restore(into: runner.vcpu) }
        try transport.restoreState(state.transport)
        reports.restore(state.reports)
    }
}

/// The machine's state apart from guest memory and the disk: vCPUs, interrupt controllers,
/// clock, the virtio transport and what the guest reported so far.
struct MachineState: Codable {
    var vcpus: [VCPUStateSnapshot]
    var irqChips: [RawState<kvm_irqchip>]
    var clock: RawState<kvm_clock_data>
    var transport: VirtioMMIOTransportState
    var reports: ReportDevice.Reports
}
