import DeviceModel
import Devices
import GuestMemory
import HostSupport
import KVM
import ResourceAllocator
import TestSupport
import Testing
import VCPU

/// What the real-KVM device tests share: a 2 MiB VM with the in-kernel IRQ chip, one virtio
/// device placed as a VMM places it (platform IRQs reserved, a window in the 32-bit MMIO hole),
/// its transport attached through the VM (ioeventfd for `QueueNotify`, irqfd for `interrupt`)
/// and served on a running event loop, and a long-mode vCPU entering guest code.
final class KVMVirtioFixture {
    static let ramSize: UInt64 = 2 << 20

    let machine: TestVM
    let layout: X86_64Layout
    let placement: DevicePlacement
    let transport: VirtioMMIOTransport
    let mmio = MMIOBus()
    let loop: EventLoop
    private let registration: DeviceEventRegistration

    var vm: KVMVirtualMachine { machine.vm }
    var memory: GuestMemoryMap { machine.memory }

    /// `backend`'s transport on a new VM, interrupting through `interrupt`, served on a loop
    /// named `loopName`.
    init(backend: any VirtioDeviceBackend, interrupt: EventFD, loopName: String) throws {
        var layout = try X86_64Layout(memorySize: Self.ramSize)
        DevicePlacement.reservePlatformIRQs(in: &layout)
        placement = try DevicePlacement.allocate(in: &layout)
        self.layout = layout
        machine = try TestVM(ramSize: Self.ramSize, irqChip: .full)
        transport = try VirtioMMIOTransport(backend: backend, memory: machine.memory, interrupt: interrupt)
        try transport.attach(to: machine.vm, bus: mmio, placement: placement)
        loop = try EventLoop(name: loopName)
        registration = try loop.serve(transport)
        try loop.start()
    }

    deinit {
        registration.cancel()
        loop.stop()
    }

    /// vCPU 0 in 64-bit mode at `entry` (identity-mapped, stack at 0x8000), with CPUID, FPU and
    /// LAPIC set up.
    func longModeVCPU(entry: UInt64) throws -> KVMVirtualCPU {
        let vcpu = try vm.createVCPU(id: 0)
        try vcpu.setCPUID(
            try CPUIDBuilder.entries(
                from: machine.kvm.supportedCPUID(), apicID: 0, topology: CPUTopology(coresPerPackage: 1)))
        try X86Setup.configureLongMode(vcpu, memory: memory, entry: entry, stackPointer: 0x8000, identityMap: 1 << 32)
        try X86Setup.configureFPU(vcpu)
        try X86Setup.configureLAPIC(vcpu)
        return vcpu
    }

    /// Copies `program` to `address` (below the guests' rings at 0x20000) and starts it on a
    /// long-mode vCPU with the device's virtio-mmio base in `baseRegister`, each value it
    /// reports on port 0x5f0 handed to `report`. Stop the returned runner when done.
    func startGuest(
        _ program: UnsafeRawBufferPointer, at address: UInt64, baseIn baseRegister: WritableKeyPath<Registers, UInt64>,
        report: @escaping @Sendable (UInt32) -> Void
    ) throws -> VCPURunner<KVMVirtualCPU> {
        try #require(address + UInt64(program.count) <= 0x20000, "the guest overlaps its own rings")
        try memory.write(program, at: GuestAddress(address))
        let vcpu = try longModeVCPU(entry: address)
        var regs = try vcpu.registers()
        regs[keyPath: baseRegister] = placement.mmioBase
        try vcpu.setRegisters(regs)
        let ports = PortIOBus()
        try ports.insert(ReportPort(report), base: 0x5F0, size: 4)
        let runner = VCPURunner(vcpu: vcpu, portIO: ports, mmio: mmio)
        try runner.start()
        return runner
    }
}
