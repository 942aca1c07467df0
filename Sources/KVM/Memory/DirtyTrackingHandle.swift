// The seams the guest-memory bridge needs for dirty-page collection, beyond the memory slots of
// `VirtualMachineHandle`: KVM's dirty log and dirty-ring reset on the VM, and the dirty ring
// of each vCPU. KVMVirtualMachine and KVMVirtualCPU are the real ones; tests can put fakes
// behind them.

/// What dirty-page collection needs from a VM: the per-slot dirty log and its clearing, and
/// the reset of harvested dirty-ring entries.
public protocol DirtyTrackingHandle: VirtualMachineHandle {
    /// The dirty bitmap of a logged slot (`KVM_GET_DIRTY_LOG`): bit `i` of word `i / 64` is
    /// page `i` of the slot. Without manual protection, reading also clears it.
    func dirtyLog(slot: UInt32) throws(KVMError) -> [UInt64]
    /// Re-protects the pages set in `bitmap`, from page `firstPage` of the slot
    /// (`KVM_CLEAR_DIRTY_LOG`, manual protection only).
    func clearDirtyLog(slot: UInt32, firstPage: UInt64, bitmap: [UInt64]) throws(KVMError)
    /// Re-protects every page harvested from the vCPUs' dirty rings (`KVM_RESET_DIRTY_RINGS`);
    /// returns the number of entries reset.
    @discardableResult
    func resetDirtyRings() throws(KVMError) -> Int
}

/// What dirty-page collection needs from a vCPU: its dirty ring.
public protocol DirtyRingHandle: AnyObject, Sendable {
    /// Collects the pages the vCPU dirtied since the last harvest and marks them for reset.
    func harvestDirtyRing() throws(KVMError) -> [DirtyPage]
}

extension KVMVirtualMachine: DirtyTrackingHandle {}
extension KVMVirtualCPU: DirtyRingHandle {}
