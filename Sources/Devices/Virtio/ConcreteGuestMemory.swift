import GuestMemory

/// The map behind `memory` when it is one of GuestMemory's own types: a `GuestMemoryMap`
/// itself, or the map an `AtomicGuestMemory` holds now (a strong snapshot, so a hotplug during
/// the caller's work leaves every region it uses mapped, and the work sees one layout).
///
/// A device pass served through the concrete map is specialized; through a generic parameter or
/// the existential every generic access costs a runtime metadata lookup. The test is a
/// comparison of metatypes (both classes are final), not a runtime cast, which costs more than
/// a descriptor read; an existential argument is opened to its dynamic type.
@inline(__always)
func concreteMap<Memory: GuestMemoryAccess>(of memory: Memory) -> GuestMemoryMap? {
    if Memory.self == GuestMemoryMap.self { return identical(memory, as: GuestMemoryMap.self) }
    if Memory.self == AtomicGuestMemory.self { return identical(memory, as: AtomicGuestMemory.self).map }
    return nil
}

/// `value` as `T`, which the caller has checked is its own type (`unsafeDowncast` would need
/// an `AnyObject` conversion, which costs a runtime call).
@inline(__always)
private func identical<Value, T>(_ value: Value, as type: T.Type) -> T {
    unsafeBitCast(value, to: T.self)
}
