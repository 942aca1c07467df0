import Synchronization

/// The current ``GuestMemoryMap`` of a running VM, replaced atomically on hotplug.
///
/// Readers take the current map with ``map`` (a strong reference) and use it for as long as
/// they like; ``insert(_:)`` and ``remove(slot:)`` publish a new map without touching the old
/// one, and a removed region is unmapped only when the last map holding it is released. So a
/// hotplug never invalidates an access in flight.
///
/// `AtomicGuestMemory` itself conforms to ``GuestMemoryAccess``: each access uses the map that
/// is current when it starts. Device models that make several related accesses should take
/// ``map`` once and use it, so all of them see the same layout.
public final class AtomicGuestMemory: GuestMemoryAccess, Sendable {
    private let current: Mutex<GuestMemoryMap>
    /// Serialises updates so that no read-modify-write of the map is lost.
    private let updates = Mutex(())

    /// Starts with `map`.
    public init(_ map: GuestMemoryMap) {
        current = Mutex(map)
    }

    /// The map current at the time of the call.
    public var map: GuestMemoryMap {
        current.withLock { $0 }
    }

    /// Replaces the map with `transform(current)`; returns the old and the new map (a KVM
    /// bridge can pass them to ``GuestMemoryMap/changes(from:)``).
    ///
    /// Updates are serialised; `transform` must not call `update`, `insert` or `remove` on
    /// the same object (readers are never blocked by it for longer than a pointer swap).
    @discardableResult
    public func update(_ transform: (GuestMemoryMap) throws(GuestMemoryError) -> GuestMemoryMap)
        throws(GuestMemoryError) -> (old: GuestMemoryMap, new: GuestMemoryMap)
    {
        try updates.withLock { (_) throws(GuestMemoryError) -> (old: GuestMemoryMap, new: GuestMemoryMap) in
            let old = map
            let new = try transform(old)
            current.withLock { $0 = new }
            return (old, new)
        }
    }

    /// Hot-adds `region` in the lowest free slot; returns the slot.
    @discardableResult
    public func insert(_ region: any GuestMemoryRegion) throws(GuestMemoryError) -> MemorySlot {
        var slot = MemorySlot(0)
        try update { (map) throws(GuestMemoryError) in
            slot = map.lowestFreeSlot
            return try map.inserting(region)
        }
        return slot
    }

    /// Hot-removes the region in `slot`; returns it. Readers holding an older map keep using it.
    @discardableResult
    public func remove(slot: MemorySlot) throws(GuestMemoryError) -> any GuestMemoryRegion {
        let (old, _) = try update { (map) throws(GuestMemoryError) in try map.removing(slot: slot) }
        guard let entry = old.entry(in: slot) else { throw .unknownSlot(slot) }
        return entry.region
    }

    /// Copies guest memory at `address` into `buffer`; see ``GuestMemoryAccess/read(into:at:)``.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        try map.read(into: buffer, at: address)
    }

    /// Copies `bytes` into guest memory at `address`; see ``GuestMemoryAccess/write(_:at:)``.
    public func write(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        try map.write(bytes, at: address)
    }

    /// Checks the range, then lends its host memory to `body`; see
    /// ``GuestMemoryAccess/withHostSegments(at:count:forWriting:_:)``.
    public func withHostSegments<Result>(
        at address: GuestAddress, count: Int, forWriting: Bool,
        _ body: (UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) throws(GuestMemoryError) -> (
            result: Result, bytesWritten: Int
        )
    ) throws(GuestMemoryError) -> Result {
        try map.withHostSegments(at: address, count: count, forWriting: forWriting, body)
    }
}
