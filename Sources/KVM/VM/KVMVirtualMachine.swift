import HostSupport
import Synchronization
import SystemPackage

/// A KVM virtual machine: guest memory slots, interrupt controllers, eventfd wiring, dirty
/// tracking and clock, and the factory for its vCPUs.
///
/// Created by ``KVMSystem/createVM(type:)``. Every method may be called from any thread; the
/// kernel serialises what needs serialising. The descriptor is closed when the object and all
/// its vCPUs are released (each vCPU keeps its VM alive).
public final class KVMVirtualMachine: Sendable {
    private let owned: OwnedDescriptor
    /// The size of each vCPU's shared mapping, read once from the system.
    let vcpuMmapSize: Int
    /// Registered memory slots, so the dirty log can be sized without asking the caller.
    let slots = Mutex<[UInt32: UserMemoryRegion]>([:])
    /// Bytes per vCPU dirty ring once ``enableDirtyRing(bytes:)`` succeeded, else 0.
    let dirtyRingBytes = Atomic<Int>(0)

    /// The VM descriptor (owned by this object; do not close it).
    public var fileDescriptor: FileDescriptor { owned.raw }

    init(owning fd: FileDescriptor, system: KVMSystem) throws(KVMError) {
        owned = OwnedDescriptor(fd)
        vcpuMmapSize = try system.vcpuMmapSize()
    }

    /// `KVM_CHECK_EXTENSION` on the VM descriptor (some answers are per VM).
    public func check(_ capability: KVMCapability) throws(KVMError) -> Int32 {
        try kvmIoctl(
            fileDescriptor, CKVM_CHECK_EXTENSION, value: UInt(capability.rawValue), "KVM_CHECK_EXTENSION(\(capability))"
        )
    }

    /// `KVM_ENABLE_CAP` on the VM with up to four arguments.
    public func enable(_ capability: KVMCapability, arguments: [UInt64] = [], flags: UInt32 = 0) throws(KVMError) {
        try kvmIoctl(
            fileDescriptor, CKVM_ENABLE_CAP, input: try enableCapStruct(capability, arguments, flags),
            "KVM_ENABLE_CAP(\(capability))")
    }

    // MARK: Memory

    /// Adds, moves or changes a memory slot (`KVM_SET_USER_MEMORY_REGION`).
    ///
    /// - Throws: `EINVAL` for unaligned addresses or sizes, `EEXIST` for an overlap with another
    ///   slot, as the kernel reports them.
    public func setUserMemoryRegion(_ region: UserMemoryRegion) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_USER_MEMORY_REGION, input: region.raw, "KVM_SET_USER_MEMORY_REGION")
        slots.withLock { table in
            if region.size == 0 { table[region.slot] = nil } else { table[region.slot] = region }
        }
    }

    /// Deletes a memory slot (a region of size 0).
    public func deleteUserMemoryRegion(slot: UInt32) throws(KVMError) {
        try setUserMemoryRegion(UserMemoryRegion(slot: slot, guestPhysicalAddress: 0, size: 0, userspaceAddress: 0))
    }

    /// The memory slots registered through this object.
    public var memoryRegions: [UserMemoryRegion] {
        slots.withLock { Array($0.values) }.sorted { $0.slot < $1.slot }
    }

    /// Places the three-page TSS Intel VMX needs in real mode (`KVM_SET_TSS_ADDR`); it must not
    /// overlap a memory slot. Firecracker uses 0xfffb_d000.
    public func setTSSAddress(_ address: UInt64) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_TSS_ADDR, value: UInt(address), "KVM_SET_TSS_ADDR")
    }

    /// Places the one-page EPT identity map (`KVM_SET_IDENTITY_MAP_ADDR`); call before creating
    /// vCPUs.
    public func setIdentityMapAddress(_ address: UInt64) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_IDENTITY_MAP_ADDR, input: address, "KVM_SET_IDENTITY_MAP_ADDR")
    }

    // MARK: vCPUs

    /// Creates a vCPU with the given id (`KVM_CREATE_VCPU`) and maps its `kvm_run` area (and its
    /// dirty ring, when enabled).
    public func createVCPU(id: UInt64) throws(KVMError) -> KVMVirtualCPU {
        let raw = try kvmIoctl(fileDescriptor, CKVM_CREATE_VCPU, value: UInt(id), "KVM_CREATE_VCPU")
        return try KVMVirtualCPU(
            owning: FileDescriptor(rawValue: raw), id: id, vm: self, mmapSize: vcpuMmapSize,
            dirtyRingBytes: dirtyRingBytes.load(ordering: .acquiring))
    }

    // MARK: Clock

    /// The guest's kvmclock (`KVM_GET_CLOCK`).
    public func clock() throws(KVMError) -> kvm_clock_data {
        try kvmIoctl(
            fileDescriptor, CKVM_GET_CLOCK, output: kvm_clock_data.self, initial: kvm_clock_data(), "KVM_GET_CLOCK")
    }

    /// Sets the guest's kvmclock (`KVM_SET_CLOCK`), for example after restoring a snapshot.
    public func setClock(_ data: kvm_clock_data) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_CLOCK, input: data, "KVM_SET_CLOCK")
    }

    /// Sets the default TSC frequency of vCPUs created afterwards (`KVM_SET_TSC_KHZ` on the VM,
    /// `KVM_CAP_VM_TSC_CONTROL`).
    public func setTSCKHz(_ khz: UInt32) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_TSC_KHZ, value: UInt(khz), "KVM_SET_TSC_KHZ")
    }
}

/// Builds a `kvm_enable_cap` (shared by the VM and vCPU forms of `KVM_ENABLE_CAP`).
func enableCapStruct(_ capability: KVMCapability, _ arguments: [UInt64], _ flags: UInt32) throws(KVMError)
    -> kvm_enable_cap
{
    guard arguments.count <= 4 else { throw .invalidArgument("KVM_ENABLE_CAP takes at most 4 arguments") }
    var cap = kvm_enable_cap()
    cap.cap = UInt32(bitPattern: capability.rawValue)
    cap.flags = flags
    withUnsafeMutableBytes(of: &cap.args) { raw in
        for (i, value) in arguments.enumerated() { raw.storeBytes(of: value, toByteOffset: i * 8, as: UInt64.self) }
    }
    return cap
}
