import GuestMemory
import KVM

/// The one test fixture for "a small VM with a guest": a KVM VM prepared for x86 (TSS,
/// identity map and, when asked, the in-kernel interrupt controllers) with anonymous guest RAM
/// at guest physical address 0, registered through the `GuestMemoryBridge`.
///
/// Every test target that runs guests builds on it (the VCPU, Devices and KVM bridge tests);
/// vCPU set-up that needs the `VCPU` target stays in those targets, since the KVM tests must
/// not depend on it.
public final class TestVM: Sendable {
    /// The `/dev/kvm` handle the VM came from.
    public let kvm: KVMSystem
    /// The VM.
    public let vm: KVMVirtualMachine
    /// Guest RAM: one region of `ramSize` bytes at guest physical address 0.
    public let memory: GuestMemoryMap
    /// The bridge that registered ``memory``'s slot (for hotplug and dirty pages).
    public let bridge: GuestMemoryBridge<KVMVirtualMachine>

    /// The RAM region at guest physical address 0.
    public let ram: MmapRegion

    /// A VM with `ramSize` bytes of RAM. `prepare` runs after the x86 preparation and before the
    /// RAM is registered (enable the dirty ring or manual dirty-log protection there); `regions`
    /// adds more RAM regions after the first.
    public init(
        ramSize: UInt64 = 2 << 20, irqChip: X86IRQChipMode = .none, tracking: DirtyPageTracking = .off,
        ramOptions: MmapRegionOptions = MmapRegionOptions(), regions: [MmapRegion] = [],
        prepare: (KVMVirtualMachine) throws -> Void = { _ in }
    ) throws {
        kvm = try KVMSystem()
        vm = try kvm.createVM()
        try vm.prepareForX86(irqChip: irqChip)
        try prepare(vm)
        ram = try MmapRegion(guestBase: .zero, size: ramSize, options: ramOptions)
        memory = try GuestMemoryMap(regions: [ram] + regions)
        bridge = GuestMemoryBridge(vm: vm, tracking: tracking)
        try bridge.apply(memory)
    }
}
