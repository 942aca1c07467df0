import CGuestMemory

/// An immutable set of non-overlapping regions with O(log n) translation from guest
/// addresses to host pointers.
///
/// A map never changes after construction: hotplug builds a new map with ``inserting(_:)`` or
/// ``removing(slot:)`` (sharing the unchanged regions) and publishes it through
/// ``AtomicGuestMemory``. Because a map holds strong references to its regions, a reader that
/// still holds an old map keeps every region of that map mapped until it lets go.
///
/// Each region sits in a ``MemorySlot`` that stays the same across hotplug; see
/// ``collectDirtyPages(merging:)`` for how slots tie into KVM's dirty log.
public final class GuestMemoryMap: @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init; `table` and the search arrays are
    // allocated once in init and freed once in deinit.

    /// A region together with the memory slot it occupies in the map.
    public struct Entry: Sendable {
        /// The region's slot; stable while the region stays in maps derived from this one.
        public let slot: MemorySlot
        /// The region.
        public let region: any GuestMemoryRegion

        /// `region` in `slot`.
        public init(slot: MemorySlot, region: any GuestMemoryRegion) {
            self.slot = slot
            self.region = region
        }
    }

    /// What a translation needs about one region, stored densely for the lookup.
    @usableFromInline struct TableEntry {
        @usableFromInline let base: UInt64
        @usableFromInline let size: UInt64
        @usableFromInline let host: UnsafeMutableRawPointer
        @usableFromInline let readOnly: Bool
        /// Unowned so that copying an entry costs no reference counting: the region owns the
        /// bitmap and the map owns the region (through `entries`).
        @usableFromInline let bitmap: Unmanaged<DirtyBitmap>?

        /// Marks `count` bytes at `offset` of the region dirty, if the region tracks writes.
        @inlinable @inline(__always) func markDirty(offset: UInt64, count: UInt64) {
            bitmap?._withUnsafeGuaranteedRef { $0.mark(offset: offset, count: count) }
        }
    }

    /// The regions and their slots, sorted by guest base address.
    public let entries: [Entry]
    /// The number of regions.
    public var count: Int { entries.count }

    @usableFromInline let regionCount: Int
    /// The regions' translation data in address order (index = index in ``entries``).
    @usableFromInline let table: UnsafeMutablePointer<TableEntry>
    /// Search tree: the regions' last addresses in Eytzinger (breadth-first) order, 1-based,
    /// padded with `UInt64.max` to a complete tree of `2^searchDepth - 1` nodes.
    @usableFromInline let searchLasts: UnsafeMutablePointer<UInt64>
    /// For each node of the search tree, the region index in `table`, or -1 for padding.
    @usableFromInline let searchIndex: UnsafeMutablePointer<Int>
    /// For each node of the search tree, a copy of the region's `table` entry (padding and
    /// node 0: size 0, which matches no address), so a lookup needs no further indirection.
    @usableFromInline let searchTable: UnsafeMutablePointer<TableEntry>
    /// The depth of the complete search tree.
    @usableFromInline let searchDepth: Int
    /// `2^searchDepth`: the number of slots in `searchLasts` / `searchIndex` (slot 0 unused).
    let searchSlots: Int

    /// A map of `regions`, which occupy slots 0, 1, 2, … in the order given.
    ///
    /// - Throws: ``GuestMemoryError/overlappingRegions(_:_:)`` when two regions overlap;
    ///   ``GuestMemoryError/invalidRegion(_:)`` when a region is empty, not page-aligned or
    ///   extends past 2^64.
    public convenience init(regions: [any GuestMemoryRegion]) throws(GuestMemoryError) {
        try self.init(
            entries: regions.enumerated().map { Entry(slot: MemorySlot(UInt32($0.offset)), region: $0.element) })
    }

    /// A map of regions in explicitly chosen slots.
    ///
    /// - Throws: as ``init(regions:)``, and ``GuestMemoryError/invalidRegion(_:)`` when two
    ///   entries share a slot.
    public init(entries: [Entry]) throws(GuestMemoryError) {
        let sorted = entries.sorted { $0.region.guestBase < $1.region.guestBase }
        var slots = Set<MemorySlot>()
        var previous: GuestAddressRange?
        for entry in sorted {
            let region = entry.region
            guard region.size > 0, region.size % DirtyBitmap.pageSize == 0, region.size <= UInt64(Int.max),
                region.guestBase.isAligned(to: DirtyBitmap.pageSize)
            else {
                throw .invalidRegion(
                    "region at \(region.guestBase) of \(region.size) bytes is empty or not page-aligned")
            }
            guard let range = region.guestRange else {
                throw .invalidRegion("region at \(region.guestBase) of \(region.size) bytes extends past 2^64")
            }
            guard slots.insert(entry.slot).inserted else {
                throw .invalidRegion("\(entry.slot) is used twice")
            }
            if let previous, previous.overlaps(range) { throw .overlappingRegions(previous, range) }
            previous = range
        }
        self.entries = sorted
        regionCount = sorted.count
        table = .allocate(capacity: max(sorted.count, 1))
        for (i, entry) in sorted.enumerated() {
            let r = entry.region
            (table + i).initialize(
                to: TableEntry(
                    base: r.guestBase.rawValue, size: r.size, host: r.hostBase,
                    readOnly: r.isReadOnly, bitmap: r.dirtyBitmap.map(Unmanaged.passUnretained)))
        }
        var depth = 0
        while (1 << depth) - 1 < sorted.count { depth += 1 }
        searchDepth = depth
        searchSlots = 1 << depth
        searchLasts = .allocate(capacity: searchSlots)
        searchLasts.initialize(repeating: .max, count: searchSlots)
        searchIndex = .allocate(capacity: searchSlots)
        searchIndex.initialize(repeating: -1, count: searchSlots)
        searchTable = .allocate(capacity: searchSlots)
        searchTable.initialize(
            repeating: TableEntry(
                base: 0, size: 0, host: UnsafeMutableRawPointer(searchLasts), readOnly: true, bitmap: nil),
            count: searchSlots)
        // In-order traversal of the implicit tree assigns the sorted regions (then padding).
        var next = 0
        var stack: [Int] = []
        var node = 1
        while node < searchSlots || !stack.isEmpty {
            while node < searchSlots { stack.append(node); node *= 2 }
            node = stack.removeLast()
            if next < sorted.count {
                let r = sorted[next].region
                searchLasts[node] = r.guestBase.rawValue + (r.size - 1)
                searchIndex[node] = next
                searchTable[node] = table[next]
            }
            next += 1
            node = node * 2 + 1
        }
    }

    deinit {
        table.deinitialize(count: regionCount)
        table.deallocate()
        searchLasts.deallocate()
        searchIndex.deallocate()
        searchTable.deallocate()
    }

    /// The search-tree node of the only region that can contain `address`: the region with
    /// the lowest last address `>= address` (node 0 or padding when there is none).
    ///
    /// A branch-free binary search (O(log n)) over the regions' last addresses stored in
    /// Eytzinger order: each level is a load, a compare and an add-with-carry, with no branch
    /// for the processor to mispredict on random addresses, and the top levels share cache lines.
    @inlinable @inline(__always)
    func searchNode(_ address: UInt64) -> Int {
        let k = Int(bitPattern: cgm_search_tree(searchLasts, searchDepth, address))
        // Undo the final run of right turns.
        return k &>> ((~k).trailingZeroBitCount &+ 1)
    }

    /// The index in ``entries`` of the region containing `address`, or `nil`. O(log n).
    @inlinable public func index(containing address: GuestAddress) -> Int? {
        let k = searchNode(address.rawValue)
        let e = searchTable[k]
        // One unsigned compare also rejects addresses below the base (the difference wraps).
        return address.rawValue &- e.base < e.size ? searchIndex[k] : nil
    }

    /// The host address of the byte at guest `address`, or `nil` when it is unmapped. O(log n).
    ///
    /// The pointer stays valid while this map (or the region) is alive.
    @inlinable public func hostAddress(of address: GuestAddress) -> UnsafeMutableRawPointer? {
        let e = searchTable[searchNode(address.rawValue)]
        let offset = address.rawValue &- e.base
        return offset < e.size ? e.host + Int(offset) : nil
    }

    /// The entry of the region containing `address`, or `nil`.
    public func entry(containing address: GuestAddress) -> Entry? {
        index(containing: address).map { entries[$0] }
    }

    /// The entry in `slot`, or `nil`.
    public func entry(in slot: MemorySlot) -> Entry? {
        entries.first { $0.slot == slot }
    }

    /// The lowest slot number not used by this map.
    public var lowestFreeSlot: MemorySlot {
        let used = Set(entries.map(\.slot.rawValue))
        var candidate: UInt32 = 0
        while used.contains(candidate) { candidate += 1 }
        return MemorySlot(candidate)
    }

    /// A new map with `region` added in the lowest free slot; this map is unchanged.
    ///
    /// - Throws: ``GuestMemoryError/overlappingRegions(_:_:)`` if it overlaps a region.
    public func inserting(_ region: any GuestMemoryRegion) throws(GuestMemoryError) -> GuestMemoryMap {
        try GuestMemoryMap(entries: entries + [Entry(slot: lowestFreeSlot, region: region)])
    }

    /// A new map without the region in `slot`; this map (and readers holding it) is unchanged.
    ///
    /// - Throws: ``GuestMemoryError/unknownSlot(_:)`` if no region is in `slot`.
    public func removing(slot: MemorySlot) throws(GuestMemoryError) -> GuestMemoryMap {
        guard entries.contains(where: { $0.slot == slot }) else { throw .unknownSlot(slot) }
        return try GuestMemoryMap(entries: entries.filter { $0.slot != slot })
    }

    /// The entries present here but not in `old` (`added`) and present in `old` but not here
    /// (`removed`), matched by slot and region identity — what a KVM bridge registers and
    /// deletes after a hotplug.
    public func changes(from old: GuestMemoryMap) -> (added: [Entry], removed: [Entry]) {
        func key(_ e: Entry) -> [AnyHashable] { [e.slot, ObjectIdentifier(e.region)] }
        let mine = Set(entries.map(key))
        let theirs = Set(old.entries.map(key))
        return (entries.filter { !theirs.contains(key($0)) }, old.entries.filter { !mine.contains(key($0)) })
    }
}
