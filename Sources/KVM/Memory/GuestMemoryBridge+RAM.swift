import GuestMemory

/// Why ``GuestMemoryBridge/mapRAM(on:ranges:options:tracking:)`` failed.
public enum GuestRAMError: Error, Sendable, CustomStringConvertible {
    /// Mapping the host memory or building the map failed (overlapping ranges, no memory …).
    case memory(GuestMemoryError)
    /// The VM refused a memory slot.
    case kvm(KVMError)

    public var description: String {
        switch self {
        case .memory(let error): "guest RAM: \(error)"
        case .kvm(let error): "guest RAM slots: \(error)"
        }
    }
}

extension GuestMemoryBridge {
    /// Guest RAM in one call: maps anonymous host memory for each of `ranges` (guest physical
    /// base and size, page-aligned), builds the ``GuestMemory/GuestMemoryMap`` and registers one
    /// memory slot per range with `vm`.
    ///
    /// - Returns: the map (what devices and loaders access guest memory through) and the
    ///   bridge (for hotplug and dirty-page collection later).
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
