import HostSupport
import SystemPackage

/// The KVM subsystem: an open `/dev/kvm`.
///
/// Use it to check the API version and capabilities, read the host's limits and CPUID / MSR
/// lists, and create virtual machines. The descriptor is closed when the value is released.
///
/// ```swift
/// let kvm = try KVMSystem()
/// if try kvm.check(.dirtyLogRing) > 0 { … }
/// let vm = try kvm.createVM()
/// ```
public final class KVMSystem: Sendable {
    /// The only KVM API version there has ever been (`KVM_API_VERSION`).
    public static let expectedAPIVersion: Int32 = 12

    /// The default device path.
    public static let defaultPath: FilePath = "/dev/kvm"

    private let owned: OwnedDescriptor

    /// The `/dev/kvm` descriptor (owned by this object; do not close it).
    public var fileDescriptor: FileDescriptor { owned.raw }

    /// Opens the KVM device at `path` and checks its API version.
    ///
    /// - Throws: `.systemCall(operation: "open /dev/kvm", …)` with `ENOENT` when there is no
    ///   KVM, `EACCES` when the user may not open it; a `KVM_GET_API_VERSION` failure (`ENOTTY`)
    ///   when `path` is not a KVM device; `.unsupportedAPIVersion` for any version but 12.
    public init(path: FilePath = KVMSystem.defaultPath) throws(KVMError) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readWrite, options: [.closeOnExec])
        } catch let error as Errno {
            throw .systemCall(operation: "open \(path)", errno: error)
        } catch {
            throw .systemCall(operation: "open \(path)", errno: .ioError)
        }
        owned = OwnedDescriptor(fd)
        let version = try kvmIoctl(fd, CKVM_GET_API_VERSION, value: 0, "KVM_GET_API_VERSION")
        guard version == Self.expectedAPIVersion else { throw .unsupportedAPIVersion(version) }
    }

    /// Whether a usable KVM device exists at `path` (it can be opened and has API version 12).
    public static func isAvailable(path: FilePath = KVMSystem.defaultPath) -> Bool {
        (try? KVMSystem(path: path)) != nil
    }

    /// The API version (`KVM_GET_API_VERSION`); always 12 for an opened system.
    public func apiVersion() throws(KVMError) -> Int32 {
        try kvmIoctl(fileDescriptor, CKVM_GET_API_VERSION, value: 0, "KVM_GET_API_VERSION")
    }

    /// `KVM_CHECK_EXTENSION`: 0 when the capability is absent, otherwise 1 or a
    /// capability-specific value (a count, a size, a bit mask).
    public func check(_ capability: KVMCapability) throws(KVMError) -> Int32 {
        try kvmIoctl(
            fileDescriptor, CKVM_CHECK_EXTENSION, value: UInt(capability.rawValue), "KVM_CHECK_EXTENSION(\(capability))"
        )
    }

    /// Whether the capability is present (its check value is positive); a failed check counts as
    /// absent.
    public func has(_ capability: KVMCapability) -> Bool { ((try? check(capability)) ?? 0) > 0 }

    /// The size of the per-vCPU shared mapping (`kvm_run` plus the PIO and coalesced-MMIO pages).
    public func vcpuMmapSize() throws(KVMError) -> Int {
        Int(try kvmIoctl(fileDescriptor, CKVM_GET_VCPU_MMAP_SIZE, value: 0, "KVM_GET_VCPU_MMAP_SIZE"))
    }

    /// The recommended number of vCPUs (`KVM_CAP_NR_VCPUS`, 4 when the host does not say).
    public func recommendedVCPUs() throws(KVMError) -> Int {
        let value = try check(.nrVcpus)
        return value > 0 ? Int(value) : 4
    }

    /// The maximum number of vCPUs per VM (`KVM_CAP_MAX_VCPUS`, falling back to the recommended
    /// number as the KVM API documentation prescribes).
    public func maxVCPUs() throws(KVMError) -> Int {
        let value = try check(.maxVcpus)
        return value > 0 ? Int(value) : try recommendedVCPUs()
    }

    /// The bound on vCPU ids (`KVM_CAP_MAX_VCPU_ID`, falling back to ``maxVCPUs()``): the kernel
    /// accepts ids below this value.
    public func maxVCPUID() throws(KVMError) -> Int {
        let value = try check(.maxVcpuId)
        return value > 0 ? Int(value) : try maxVCPUs()
    }

    /// The number of user memory slots per address space (`KVM_CAP_NR_MEMSLOTS`, 32 when the host
    /// does not say).
    public func maxMemorySlots() throws(KVMError) -> Int {
        let value = try check(.nrMemslots)
        return value > 0 ? Int(value) : 32
    }

    /// The CPUID leaves KVM can expose to a guest (`KVM_GET_SUPPORTED_CPUID`).
    public func supportedCPUID() throws(KVMError) -> [CPUIDEntry] {
        try readCPUIDList { (buffer) throws(KVMError) in
            try kvmIoctl(fileDescriptor, CKVM_GET_SUPPORTED_CPUID, buffer, "KVM_GET_SUPPORTED_CPUID")
        }
    }

    /// The CPUID features KVM emulates in software (`KVM_GET_EMULATED_CPUID`).
    public func emulatedCPUID() throws(KVMError) -> [CPUIDEntry] {
        try readCPUIDList { (buffer) throws(KVMError) in
            try kvmIoctl(fileDescriptor, CKVM_GET_EMULATED_CPUID, buffer, "KVM_GET_EMULATED_CPUID")
        }
    }

    /// The MSRs a VMM can save and restore (`KVM_GET_MSR_INDEX_LIST`).
    public func msrIndexList() throws(KVMError) -> [UInt32] {
        try readMSRIndexList { (buffer) throws(KVMError) in
            try kvmIoctl(fileDescriptor, CKVM_GET_MSR_INDEX_LIST, buffer, "KVM_GET_MSR_INDEX_LIST")
        }
    }

    /// The feature MSRs (`KVM_GET_MSR_FEATURE_INDEX_LIST`), which describe host capabilities.
    public func msrFeatureIndexList() throws(KVMError) -> [UInt32] {
        try readMSRIndexList { (buffer) throws(KVMError) in
            try kvmIoctl(fileDescriptor, CKVM_GET_MSR_FEATURE_INDEX_LIST, buffer, "KVM_GET_MSR_FEATURE_INDEX_LIST")
        }
    }

    /// Reads feature-MSR values on the system descriptor (`KVM_GET_MSRS`, with
    /// `KVM_CAP_GET_MSR_FEATURES`). Returns the entries KVM answered, in order.
    public func featureMSRs(_ indices: [UInt32]) throws(KVMError) -> [MSREntry] {
        try transferMSRs(indices.map { MSREntry(index: $0) }) { (buffer) throws(KVMError) -> Int32 in
            try kvmIoctl(fileDescriptor, CKVM_GET_MSRS, buffer, "KVM_GET_MSRS")
        }
    }

    /// Creates a virtual machine (`KVM_CREATE_VM`).
    ///
    /// - Parameter type: the machine type: 0 (the default) is an ordinary VM; other values are
    ///   architecture-specific.
    public func createVM(type: UInt = 0) throws(KVMError) -> KVMVirtualMachine {
        let raw = try kvmIoctl(fileDescriptor, CKVM_CREATE_VM, value: type, "KVM_CREATE_VM")
        return try KVMVirtualMachine(owning: FileDescriptor(rawValue: raw), system: self)
    }
}
