import KVM

/// The complete architectural state of an x86_64 vCPU, captured from a stopped or paused vCPU
/// and restorable into a fresh one (of a VM with the same memory contents). `Codable`.
public struct VCPUStateSnapshot: Codable, Hashable, Sendable {
    public var id: UInt64
    public var cpuid: [CPUIDEntry]
    public var mpState: UInt32
    public var registers: RawState<Registers>
    public var specialRegisters: RawState<SpecialRegisters>
    public var xsave: [UInt8]
    public var xcrs: RawState<ExtendedControlRegisters>?
    public var debugRegisters: RawState<DebugRegisters>
    public var lapic: RawState<LAPICState>?
    public var msrs: [MSREntry]
    public var events: RawState<VCPUEvents>
    public var tscKHz: UInt32?

    /// Captures the state of `vcpu`, which must not be running.
    ///
    /// - Parameter msrIndices: the MSRs to save, usually ``KVMSystem/msrIndexList()``; the ones
    ///   this vCPU does not accept are left out, and so are those KVM can only restore with an
    ///   in-kernel LAPIC when `hasLAPIC` is false (the VM has no in-kernel IRQ chip).
    public static func capture(
        from vcpu: some X86VirtualCPUState, msrIndices: [UInt32], hasLAPIC: Bool
    ) throws(KVMError) -> VCPUStateSnapshot {
        VCPUStateSnapshot(
            id: vcpu.id,
            cpuid: try vcpu.cpuid(),
            mpState: try vcpu.mpState().rawValue,
            registers: RawState(try vcpu.registers()),
            specialRegisters: RawState(try vcpu.specialRegisters()),
            xsave: try vcpu.xsave().bytes,
            xcrs: try vcpu.supportsXCRs ? RawState(try vcpu.xcrs()) : nil,
            debugRegisters: RawState(try vcpu.debugRegisters()),
            lapic: hasLAPIC ? RawState(try vcpu.lapic()) : nil,
            msrs: try readAcceptedMSRs(vcpu, hasLAPIC ? msrIndices : msrIndices.filter { !lapicOnlyMSRs.contains($0) }),
            events: RawState(try vcpu.events()),
            tscKHz: try? vcpu.tscKHz())
    }

    /// Restores this state into `vcpu` (freshly created, not yet run), in the order KVM needs:
    /// CPUID, MP state, registers, special registers, XSAVE, XCRs, debug registers, LAPIC, MSRs,
    /// events.
    public func restore(into vcpu: some X86VirtualCPUState) throws(KVMError) {
        if !cpuid.isEmpty { try vcpu.setCPUID(cpuid) }
        try vcpu.setMPState(MPState(rawValue: mpState))
        try vcpu.setRegisters(registers.value)
        try vcpu.setSpecialRegisters(specialRegisters.value)
        try vcpu.setXSave(XSaveState(bytes: xsave))
        if let xcrs { try vcpu.setXCRs(xcrs.value) }
        try vcpu.setDebugRegisters(debugRegisters.value)
        if let lapic { try vcpu.setLAPIC(lapic.value) }
        try vcpu.setMSRs(msrs)
        try vcpu.setEvents(events.value)
    }
}

/// MSRs that KVM reads without an in-kernel LAPIC but refuses to write without one:
/// `MSR_KVM_ASYNC_PF_INT` (the async page-fault interrupt vector).
let lapicOnlyMSRs: Set<UInt32> = [0x4b56_4d06]

/// Reads every MSR of `indices` that the vCPU accepts, skipping the ones it refuses.
private func readAcceptedMSRs(_ vcpu: some X86VirtualCPUState, _ indices: [UInt32]) throws(KVMError) -> [MSREntry] {
    var remaining = indices[...]
    var result: [MSREntry] = []
    while !remaining.isEmpty {
        do {
            result += try vcpu.msrs(Array(remaining))
            break
        } catch .msrNotAccepted(let index) {
            // Keep what came before the refused MSR, drop it, and go on after it.
            guard let position = remaining.firstIndex(of: index) else { break }
            result += try vcpu.msrs(Array(remaining[..<position]))
            remaining = remaining[(position + 1)...]
        }
    }
    return result
}
