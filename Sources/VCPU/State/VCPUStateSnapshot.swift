import KVM

/// The complete architectural state of an x86_64 vCPU, captured from a stopped or paused vCPU
/// and restorable into a fresh one (of a VM with the same memory contents). `Codable`.
public struct VCPUStateSnapshot: Codable, Hashable, Sendable {
    /// The vCPU id (the initial APIC id).
    public var id: UInt64
    /// The CPUID the guest sees; not restored when empty.
    public var cpuid: [CPUIDEntry]
    /// The multiprocessing state (a `KVM_MP_STATE_*` value, see `MPState`).
    public var mpState: UInt32
    /// The general-purpose registers, RIP and RFLAGS.
    public var registers: RawState<Registers>
    /// The segment, control and descriptor-table registers, EFER and APIC base.
    public var specialRegisters: RawState<SpecialRegisters>
    /// The XSAVE area, as `KVM_GET_XSAVE` or `KVM_GET_XSAVE2` returned it.
    public var xsave: [UInt8]
    /// The extended control registers; `nil` when the host cannot save them (no `KVM_CAP_XCRS`).
    public var xcrs: RawState<ExtendedControlRegisters>?
    /// The debug registers.
    public var debugRegisters: RawState<DebugRegisters>
    /// The local APIC's register page; `nil` for a VM without an in-kernel LAPIC.
    public var lapic: RawState<LAPICState>?
    /// The MSRs the vCPU accepted, with their values.
    public var msrs: [MSREntry]
    /// Pending exceptions, interrupts and NMIs, interrupt shadows and SMM state.
    public var events: RawState<VCPUEvents>
    /// The guest TSC frequency in kHz, when the host reported it. Informational:
    /// ``restore(into:)`` does not set it.
    public var tscKHz: UInt32?

    /// Captures the state of `vcpu`, which must not be running.
    ///
    /// - Parameters:
    ///   - vcpu: a paused or stopped vCPU (a ``VCPURunner`` paused with ``VCPURunner/pause()``
    ///     has completed any pending I/O).
    ///   - msrIndices: the MSRs to save, usually `KVMSystem.msrIndexList()`; the ones this vCPU
    ///     does not accept are left out, and so are those KVM can only restore with an in-kernel
    ///     LAPIC when `hasLAPIC` is false.
    ///   - hasLAPIC: whether the VM has an in-kernel local APIC (an IRQ chip, full or split);
    ///     without one the LAPIC page is not captured.
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
    ///
    /// - Throws: the first KVM operation that fails; the state set before it stays set.
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
