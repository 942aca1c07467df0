import HostSupport

// The seams of the KVM target: what the other targets (GuestMemory's slot bridge, VCPU's run
// loop, Devices' interrupt wiring) need from a VM and a vCPU, so that embedders and tests can
// put something else behind them. KVMVirtualMachine and KVMVirtualCPU are the real ones.

/// What a memory map or a device needs from a VM: memory slots and interrupt injection.
public protocol VirtualMachineHandle: AnyObject, Sendable {
    /// Adds, changes or (with size 0) deletes a memory slot.
    func setUserMemoryRegion(_ region: UserMemoryRegion) throws(KVMError)
    /// Sets the level of a GSI of the in-kernel interrupt controllers.
    func setIRQLine(_ gsi: UInt32, active: Bool) throws(KVMError)
    /// Delivers a message-signalled interrupt; returns whether the guest accepted it.
    @discardableResult
    func signalMSI(address: UInt64, data: UInt32, deviceID: UInt32?) throws(KVMError) -> Bool
}

/// What a run loop needs from a vCPU: run it, kick it, and read and write its registers.
public protocol VirtualCPUHandle: AnyObject, Sendable {
    /// The vCPU id (the initial APIC id on x86).
    var id: UInt64 { get }
    /// Enters the guest and returns the decoded exit.
    func run() throws(KVMError) -> VMExit
    /// While set, `run()` returns ``VMExit/interrupted`` without entering the guest.
    var immediateExit: Bool { get set }
    /// The general-purpose registers, RIP and RFLAGS (`KVM_GET_REGS`).
    func registers() throws(KVMError) -> Registers
    /// Sets the general-purpose registers, RIP and RFLAGS (`KVM_SET_REGS`).
    func setRegisters(_ registers: Registers) throws(KVMError)
    /// The segment, control and descriptor-table registers, EFER and APIC base (`KVM_GET_SREGS`).
    func specialRegisters() throws(KVMError) -> SpecialRegisters
    /// Sets the segment, control and descriptor-table registers, EFER and APIC base (`KVM_SET_SREGS`).
    func setSpecialRegisters(_ registers: SpecialRegisters) throws(KVMError)
}

/// The rest of an x86 vCPU's architectural state: what x86 set-up (FPU, boot MSRs, LAPIC pins,
/// CPUID) and a complete save and restore (the `VCPU` target's `VCPUStateSnapshot`) need beyond
/// ``VirtualCPUHandle``.
///
/// `KVMVirtualCPU` is the real one. Code written against this protocol (`X86Setup`, snapshots,
/// an embedder's own boot code) never downcasts a vCPU to the concrete KVM type.
public protocol X86VirtualCPUState: VirtualCPUHandle {
    /// The x87/SSE state (`KVM_GET_FPU`).
    func fpu() throws(KVMError) -> FPUState
    /// Sets the x87/SSE state.
    func setFPU(_ state: FPUState) throws(KVMError)
    /// Reads the MSRs `indices`; throws ``KVMError/msrNotAccepted(index:)`` at the first one
    /// the vCPU refuses.
    func msrs(_ indices: [UInt32]) throws(KVMError) -> [MSREntry]
    /// Writes `entries`; throws ``KVMError/msrNotAccepted(index:)`` at the first one refused.
    func setMSRs(_ entries: [MSREntry]) throws(KVMError)
    /// The CPUID the guest sees.
    func cpuid() throws(KVMError) -> [CPUIDEntry]
    /// Sets the CPUID the guest sees (before the first run).
    func setCPUID(_ entries: [CPUIDEntry]) throws(KVMError)
    /// The local APIC's register page (needs an in-kernel LAPIC).
    func lapic() throws(KVMError) -> LAPICState
    /// Sets the local APIC's register page.
    func setLAPIC(_ state: LAPICState) throws(KVMError)
    /// The multiprocessing state (runnable, halted, waiting for INIT/SIPI …).
    func mpState() throws(KVMError) -> MPState
    /// Sets the multiprocessing state.
    func setMPState(_ state: MPState) throws(KVMError)
    /// The XSAVE area (all extended register state).
    func xsave() throws(KVMError) -> XSaveState
    /// Sets the XSAVE area.
    func setXSave(_ state: XSaveState) throws(KVMError)
    /// Whether the host can save and restore the extended control registers (`XCR0`).
    var supportsXCRs: Bool { get throws(KVMError) }
    /// The extended control registers.
    func xcrs() throws(KVMError) -> ExtendedControlRegisters
    /// Sets the extended control registers.
    func setXCRs(_ registers: ExtendedControlRegisters) throws(KVMError)
    /// The debug registers.
    func debugRegisters() throws(KVMError) -> DebugRegisters
    /// Sets the debug registers.
    func setDebugRegisters(_ registers: DebugRegisters) throws(KVMError)
    /// Pending exceptions, interrupts and NMIs, and interrupt shadows.
    func events() throws(KVMError) -> VCPUEvents
    /// Sets pending events.
    func setEvents(_ events: VCPUEvents) throws(KVMError)
    /// The guest TSC frequency in kHz.
    func tscKHz() throws(KVMError) -> UInt32
}

/// What a device needs to wire its eventfds into the hypervisor: irqfds (a signal of the
/// eventfd injects a GSI in the kernel) and ioeventfds (a guest write to an address signals an
/// eventfd inside the kernel, with no exit to user space).
///
/// `KVMVirtualMachine` is the real one; a device model that attaches through this protocol
/// never needs the concrete VM type, and a test can record the wiring instead.
public protocol EventFDRouting: AnyObject, Sendable {
    /// Makes every signal of `eventFD` inject GSI `gsi`; with `resample`, level-triggered.
    func registerIRQFD(_ eventFD: EventFD, gsi: UInt32, resample: EventFD?) throws(KVMError)
    /// Detaches `eventFD` from `gsi`.
    func unregisterIRQFD(_ eventFD: EventFD, gsi: UInt32) throws(KVMError)
    /// Makes a guest write of `length` bytes (0: any) to `address` (only of `dataMatch`, when
    /// set) signal `eventFD` without an exit.
    func registerIoEventFD(_ eventFD: EventFD, address: IoEventAddress, length: UInt32, dataMatch: UInt64?)
        throws(KVMError)
    /// Removes an ioeventfd registered with the same arguments.
    func unregisterIoEventFD(_ eventFD: EventFD, address: IoEventAddress, length: UInt32, dataMatch: UInt64?)
        throws(KVMError)
}

extension KVMVirtualMachine: VirtualMachineHandle {}
extension KVMVirtualMachine: EventFDRouting {}
extension KVMVirtualCPU: VirtualCPUHandle {}
extension KVMVirtualCPU: X86VirtualCPUState {
    /// Whether the VM reports `KVM_CAP_XCRS`.
    public var supportsXCRs: Bool {
        get throws(KVMError) { try vm.check(.xcrs) > 0 }
    }
}
