import GuestMemory

/// Why ``GuestMemoryBridge/mapRAM(on:ranges:options:tracking:)`` failed.
public enum GuestRAMError: Error, Sendable, CustomStringConvertible {
    /// Mapping the host memory or building the map failed (overlapping ranges, no memory …).
    case memory(GuestMemoryError)
    /// The VM refused a memory slot.
    case kvm(KVMError)

    /// The underlying error, prefixed with what was being set up.
    public var description: String {
        switch self {
        case .memory(let error): "guest RAM: \(error)"
        case .kvm(let error): "guest RAM slots: \(error)"
        }
    }
}

extension GuestMemoryBridge {
    /// Guest RAM in one call: maps host memory (anonymous unless `options` say otherwise) for
    /// each of `ranges` (guest physical base and size, page-aligned), builds the `GuestMemoryMap`
    /// and registers one memory slot per range with `vm`.
    ///
    /// ```swift
    /// let (memory, bridge) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: 64 << 20)])
    /// ```
    ///
    /// - Parameters:
    ///   - vm: the VM to register the slots with.
    ///   - ranges: the RAM ranges; one region and one memory slot each, slots numbered from 0 in order.
    ///   - options: how the host memory is mapped (`MmapRegionOptions`: backing, huge pages, guard pages …).
    ///   - tracking: how the bridge tracks guest writes (see ``DirtyPageTracking``).
    /// - Returns: the map (what devices and loaders access guest memory through) and the
    ///   bridge (for hotplug and dirty-page collection later).
    /// - Throws: ``GuestRAMError/memory(_:)`` when mapping or building the map failed,
    ///   ``GuestRAMError/kvm(_:)`` when the VM refused a slot.
    public static func mapRAM(
        on vm: VM, ranges: [(base: UInt64, size: UInt64)], options: MmapRegionOptions = MmapRegionOptions(),
        tracking: DirtyPageTracking = .off
    ) throws(GuestRAMError) -> (map: GuestMemoryMap, bridge: GuestMemoryBridge) {
        let map: GuestMemoryMap
        do throws(GuestMemoryError) {
            let regions = try ranges.map { (range) throws(GuestMemoryError) in
                try MmapRegion(guestBase: GuestAddress(range.base), size: range.size, options: options)
            }
            map = try GuestMemoryMap(regions: regions)
        } catch {
            throw .memory(error)
        }
        let bridge = GuestMemoryBridge(vm: vm, tracking: tracking)
        do throws(KVMError) {
            try bridge.apply(map)
        } catch {
            throw .kvm(error)
        }
        return (map, bridge)
    }
}
