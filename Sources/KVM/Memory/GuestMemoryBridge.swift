import GuestMemory
import Synchronization

/// Keeps a VM's memory slots in step with a `GuestMemoryMap`: every region of the map is a KVM
/// memory slot numbered by its `MemorySlot`, and
/// ``collectDirtyPages(vcpus:)`` merges KVM's dirty log or dirty rings with the regions' own
/// write bitmaps.
///
/// ```swift
/// let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [ram]))
/// let bridge = GuestMemoryBridge(vm: vm, tracking: .bitmap(manualProtection: false))
/// try bridge.apply(memory.map)           // registers every region
/// try memory.insert(hotplugged)          // hotplug: update the map, then KVM
/// try bridge.apply(memory.map)
/// let dirty = try bridge.collectDirtyPages()
/// ```
///
/// **Region lifetime.** The bridge holds every region whose slot KVM has until the slot is
/// deleted, so a region removed from the map (or whose deletion failed) is never unmapped while
/// the guest can still reach it.
///
/// **Hotplug.** ``apply(_:)`` diffs the map against the slots registered now
/// (`GuestMemoryMap.changes(from:)`), deletes the removed slots first and then
/// adds the new ones, each group by ascending slot: no guest address is ever covered by two
/// slots, even when a new region takes over addresses (or the slot number) of a removed one.
/// Between the two steps such addresses are unbacked and a vCPU touching them exits with MMIO;
/// pause the vCPUs around a hotplug that replaces memory the guest is using.
///
/// All methods may be called from any thread; they are serialised. For guest RAM in one call
/// (map, regions and bridge), see ``mapRAM(on:ranges:options:tracking:)``.
public final class GuestMemoryBridge<VM: VirtualMachineHandle>: Sendable {
    /// The VM whose memory slots this bridge manages.
    public let vm: VM
    /// How guest writes are tracked.
    public let tracking: DirtyPageTracking

    struct State {
        /// The map entries KVM has a slot for now, by slot (holding their regions mapped).
        var registered: [MemorySlot: GuestMemoryMap.Entry] = [:]
        /// `registered` as a map; `nil` when it must be rebuilt (after a failed update).
        var map: GuestMemoryMap?
    }

    let state = Mutex(State())

    /// A bridge that registers slots with `vm`; nothing is registered until ``apply(_:)``.
    ///
    /// Enable the KVM capability that `tracking` needs before the first ``apply(_:)`` (see
    /// ``DirtyPageTracking``).
    public init(vm: VM, tracking: DirtyPageTracking = .off) {
        self.vm = vm
        self.tracking = tracking
    }

    /// The map whose regions are registered now (empty before the first ``apply(_:)``).
    public func registeredMap() throws(KVMError) -> GuestMemoryMap {
        try state.withLock { (state) throws(KVMError) in try Self.currentMap(&state) }
    }

    /// Makes the VM's memory slots match `map`: deletes the slots of regions that are no longer
    /// in it, then registers its regions that are not registered yet (the first call registers
    /// every region). Idempotent: applying the same map again changes nothing.
    ///
    /// Each slot gets the region's guest base, size and host address, `KVM_MEM_READONLY` for a
    /// read-only region and `KVM_MEM_LOG_DIRTY_PAGES` for a writable one when ``tracking`` is
    /// on (see ``UserMemoryRegion/init(_:logDirtyPages:)``).
    ///
    /// - Throws: `.invalidArgument` when a new slot number is above
    ///   ``UserMemoryRegion/highestMemorySlot`` (checked before anything changes); the failed
    ///   `KVM_SET_USER_MEMORY_REGION` otherwise (for example `EEXIST` when a region overlaps a
    ///   slot registered outside the bridge). After a failure the bridge knows exactly which
    ///   slots KVM has; applying a map again continues from there.
    public func apply(_ map: GuestMemoryMap) throws(KVMError) {
        try state.withLock { (state) throws(KVMError) in
            let current = try Self.currentMap(&state)
            let (added, removed) = map.changes(from: current)
            let additions = try added.sorted { $0.slot < $1.slot }.map { (entry) throws(KVMError) in
                (entry, try UserMemoryRegion(entry, logDirtyPages: tracking.logsGuestWrites))
            }
            state.map = nil
            for entry in removed.sorted(by: { $0.slot < $1.slot }) {
                try deleteSlot(entry.slot, &state)
            }
            for (entry, slot) in additions {
                try vm.setUserMemoryRegion(slot)
                state.registered[entry.slot] = entry
            }
            state.map = map
        }
    }

    /// Deletes every slot the bridge registered and lets go of the regions.
    ///
    /// - Throws: the failed `KVM_SET_USER_MEMORY_REGION`; the slots deleted before it stay deleted.
    public func removeAll() throws(KVMError) {
        try state.withLock { (state) throws(KVMError) in
            state.map = nil
            for slot in state.registered.keys.sorted() {
                try deleteSlot(slot, &state)
            }
        }
    }

    /// Deletes `slot` from the VM (a region of size 0), then forgets (and releases) its entry.
    private func deleteSlot(_ slot: MemorySlot, _ state: inout State) throws(KVMError) {
        try vm.setUserMemoryRegion(
            UserMemoryRegion(slot: slot.rawValue, guestPhysicalAddress: 0, size: 0, userspaceAddress: 0))
        state.registered[slot] = nil
    }

    /// The map of the registered entries, rebuilt after a failed update.
    static func currentMap(_ state: inout State) throws(KVMError) -> GuestMemoryMap {
        if let map = state.map { return map }
        do {
            let map = try GuestMemoryMap(entries: Array(state.registered.values))
            state.map = map
            return map
        } catch {
            // KVM refuses overlapping slots, so registered entries always form a valid map; a
            // VirtualMachineHandle that accepted an overlap gets this error.
            throw .invalidArgument("the registered memory slots do not form a valid map: \(error)")
        }
    }
}
