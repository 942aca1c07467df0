import GuestMemory

/// The map behind `memory` when it is one of GuestMemory's own types: a `GuestMemoryMap`
/// itself, or the map an `AtomicGuestMemory` holds now (a strong snapshot, so a hotplug during
/// the caller's work leaves every region it uses mapped, and the work sees one layout).
///
/// A device pass served through the concrete map is specialized; through the existential every
/// generic access costs a runtime metadata lookup.
func concreteMap(of memory: any GuestMemoryAccess) -> GuestMemoryMap? {
    if let map = memory as? GuestMemoryMap { return map }
    if let current = memory as? AtomicGuestMemory { return current.map }
    return nil
}
