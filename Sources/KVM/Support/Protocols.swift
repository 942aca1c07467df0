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
    func registers() throws(KVMError) -> Registers
    func setRegisters(_ registers: Registers) throws(KVMError)
    func specialRegisters() throws(KVMError) -> SpecialRegisters
    func setSpecialRegisters(_ registers: SpecialRegisters) throws(KVMError)
}

extension KVMVirtualMachine: VirtualMachineHandle {}
extension KVMVirtualCPU: VirtualCPUHandle {}
