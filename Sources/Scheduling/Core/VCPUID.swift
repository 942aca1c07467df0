/// Time in nanoseconds, on whatever clock the caller uses: `CLOCK_MONOTONIC` for a real
/// dispatcher, the virtual clock of ``Simulator``. Policies only compare and subtract times.
public typealias Nanoseconds = UInt64

/// Identifies a virtual machine to the scheduler (for per-VM accounting and grouping).
public struct VMID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The VM number chosen by the embedder.
    public var rawValue: UInt32
    /// VM number `rawValue`.
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    /// Orders VMs by number.
    public static func < (a: VMID, b: VMID) -> Bool { a.rawValue < b.rawValue }
    /// `vmN`, e.g. `vm0`.
    public var description: String { "vm\(rawValue)" }
}

/// Identifies one vCPU to the scheduler: its VM and its index inside that VM.
///
/// Policies key everything by this value; they never see a KVM object.
public struct VCPUID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The VM the vCPU belongs to.
    public var vm: VMID
    /// The vCPU's index inside its VM.
    public var index: UInt32

    /// vCPU `index` of `vm`.
    public init(vm: VMID, index: UInt32) {
        self.vm = vm
        self.index = index
    }

    /// A vCPU of VM 0 (handy for single-VM setups and tests).
    public init(_ index: UInt32) { self.init(vm: VMID(0), index: index) }

    /// Orders vCPUs by VM, then by index.
    public static func < (a: VCPUID, b: VCPUID) -> Bool {
        (a.vm.rawValue, a.index) < (b.vm.rawValue, b.index)
    }

    /// `vmN.I`, e.g. `vm0.1`.
    public var description: String { "\(vm).\(index)" }
}
