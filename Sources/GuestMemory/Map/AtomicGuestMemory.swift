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
///
/// An access takes no lock and touches no reference count: it announces itself in its thread's
/// own record (a plain store before and after), loads the current map and uses it unretained.
/// An update swaps the map pointer and hands the old map to an epoch-based reclaimer, which
/// releases it once no access that could have loaded it is still running: at once if none is,
/// otherwise when the last of them ends (that access releases it on its way out, so a removed
/// region is unmapped without waiting for another update). Updates (``update(_:)``,
/// ``insert(_:)``, ``remove(slot:)``) are serialised with one another and never wait for
/// readers; a reader takes a lock only for that rare release.
public final class AtomicGuestMemory: GuestMemoryAccess, Sendable {
    /// The current map; it holds one strong reference, which the reclaimer takes over when the
    /// map is replaced.
    @usableFromInline let current: Atomic<Unmanaged<GuestMemoryMap>>
    /// The read sections that keep replaced maps alive while accesses use them.
    @usableFromInline let readers: ReaderDomain
    /// Serialises updates so that no read-modify-write of the map is lost.
    private let updates = Mutex(())

    /// Starts with `map`.
    public convenience init(_ map: GuestMemoryMap) {
        self.init(map, readers: .shared)
    }

    /// Starts with `map`, with read sections in `readers` (tests use small domains).
    init(_ map: GuestMemoryMap, readers: ReaderDomain) {
        current = Atomic(Unmanaged.passRetained(map))
        self.readers = readers
    }

    deinit {
        // No access is running: each holds a reference to this object.
        current.load(ordering: .acquiring).release()
        if readers.pending.load(ordering: .sequentiallyConsistent) != 0 { readers.reclaim() }
    }

    /// The map current at the time of the call.
    public var map: GuestMemoryMap {
        withCurrentMap { $0 }
    }

    /// Calls `body` with the current map, which stays alive until `body` returns even if an
    /// update replaces it meanwhile.
    @usableFromInline
    func withCurrentMap<T, Failure: Error>(_ body: (GuestMemoryMap) throws(Failure) -> T) throws(Failure) -> T {
        let ticket = readers.enter()
        defer { readers.exit(ticket) }
        var result: Result<T, Failure>?
        current.load(ordering: .sequentiallyConsistent)._withUnsafeGuaranteedRef { (map) -> Void in
            do throws(Failure) { result = .success(try body(map)) } catch { result = .failure(error) }
        }
        return try result.unsafelyUnwrapped.get()
    }

    /// Replaces the map with `transform(current)`; returns the old and the new map (a KVM
    /// bridge can pass them to ``GuestMemoryMap/changes(from:)``).
    ///
    /// Updates are serialised; `transform` must not call `update`, `insert` or `remove` on
    /// the same object. Readers are never blocked by an update.
    @discardableResult
    public func update(_ transform: (GuestMemoryMap) throws(GuestMemoryError) -> GuestMemoryMap)
        throws(GuestMemoryError) -> (old: GuestMemoryMap, new: GuestMemoryMap)
    {
        let (old, new, replaced) = try updates.withLock {
            (_) throws(GuestMemoryError) -> (GuestMemoryMap, GuestMemoryMap, Unmanaged<GuestMemoryMap>) in
            let old = current.load(ordering: .acquiring).takeUnretainedValue()
            let new = try transform(old)
            let replaced = current.exchange(Unmanaged.passRetained(new), ordering: .sequentiallyConsistent)
            return (old, new, replaced)
        }
        // `current`'s reference to the old map goes to the reclaimer — outside the lock, as
        // releasing a map may unmap its regions.
        readers.retire(replaced.takeRetainedValue())
        return (old, new)
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

    // read and write are inlinable, like the map's, so the common case — a thread's outermost
    // access that lies in one region — costs the caller the read section and the map's own fast
    // path, without a call; anything else (crossing regions, failing, nested, the thread's first
    // access) leaves the section and starts over out of line.

    /// Copies guest memory at `address` into `buffer`; see ``GuestMemoryAccess/read(into:at:)``.
    @inlinable @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        var done = false
        if let record = readers.beginAccess() {
            done = current.load(ordering: .sequentiallyConsistent)._withUnsafeGuaranteedRef { map in
                guard let destination = buffer.baseAddress,
                    let (e, offset) = map.singleRegion(address, count: buffer.count)
                else { return false }
                volatileCopy(to: destination, from: e.host + Int(offset), count: buffer.count)
                return true
            }
            if _fastPath(readers.endAccess(record) && done) { return }
        }
        try readSlowPath(into: buffer, at: address, done: done)
    }

    /// Copies `bytes` into guest memory at `address`; see ``GuestMemoryAccess/write(_:at:)``.
    @inlinable @inline(__always)
    public func write(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError) {
        var done = false
        if let record = readers.beginAccess() {
            done = current.load(ordering: .sequentiallyConsistent)._withUnsafeGuaranteedRef { map in
                guard let source = bytes.baseAddress, let (e, offset) = map.singleRegion(address, count: bytes.count),
                    !e.readOnly
                else { return false }
                volatileCopy(to: e.host + Int(offset), from: source, count: bytes.count)
                e.markDirty(offset: offset, count: UInt64(bytes.count))
                return true
            }
            if _fastPath(readers.endAccess(record) && done) { return }
        }
        try writeSlowPath(bytes, at: address, done: done)
    }

    /// The rest of ``read(into:at:)``: releases retired maps if its section found some waiting,
    /// then reads unless the fast path did.
    @usableFromInline
    func readSlowPath(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress, done: Bool)
        throws(GuestMemoryError)
    {
        if readers.pending.load(ordering: .sequentiallyConsistent) != 0 { readers.reclaim() }
        if done { return }
        try withCurrentMap { (map) throws(GuestMemoryError) in try map.read(into: buffer, at: address) }
    }

    /// The rest of ``write(_:at:)``, as ``readSlowPath(into:at:done:)``.
    @usableFromInline
    func writeSlowPath(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress, done: Bool) throws(GuestMemoryError) {
        if readers.pending.load(ordering: .sequentiallyConsistent) != 0 { readers.reclaim() }
        if done { return }
        try withCurrentMap { (map) throws(GuestMemoryError) in try map.write(bytes, at: address) }
    }

    /// Checks the range, then lends its host memory to `body`; see
    /// ``GuestMemoryAccess/withHostSegments(at:count:forWriting:_:)``.
    ///
    /// The segments stay valid until `body` returns even if a hotplug removes their region
    /// meanwhile: the region is released, at the earliest, when `body` has returned.
    public func withHostSegments<Result>(
        at address: GuestAddress, count: Int, forWriting: Bool,
        _ body: (UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) throws(GuestMemoryError) -> (
            result: Result, bytesWritten: Int
        )
    ) throws(GuestMemoryError) -> Result {
        try withCurrentMap { (map) throws(GuestMemoryError) in
            try map.withHostSegments(at: address, count: count, forWriting: forWriting, body)
        }
    }
}
