import GuestMemory

extension GuestMemoryBridge where VM: DirtyTrackingHandle {
    /// Returns the guest address of every 4 KiB page written since the last collection — by
    /// the guest (KVM's dirty log or dirty rings, per ``tracking``) or by the host through the
    /// GuestMemory API (the regions' `DirtyBitmap`s) — once each, ascending, and
    /// clears what it returns, in one call over the registered map:
    ///
    /// - ``DirtyPageTracking/off``: the regions' bitmaps only.
    /// - ``DirtyPageTracking/bitmap(manualProtection:)``: `KVM_GET_DIRTY_LOG` for every
    ///   writable slot (which clears it), or with manual protection `KVM_GET_DIRTY_LOG` and then
    ///   `KVM_CLEAR_DIRTY_LOG` of exactly the pages read.
    /// - ``DirtyPageTracking/ring``: harvests the ring of every vCPU in `vcpus` (pass all of
    ///   the VM's vCPUs), then `KVM_RESET_DIRTY_RINGS`. Entries naming a slot that is not
    ///   registered (a region hot-removed since the guest wrote it) or a page past its end are
    ///   dropped. The bridge then owns the rings: entries of slots registered outside it are
    ///   dropped too. An entry from before a slot number was reused may mark a page of the new
    ///   region dirty: tracking can over-report after hotplug, never under-report.
    ///
    /// KVM's side is cleared before the regions' bitmaps are taken, so a KVM failure loses
    /// none of the host's writes. Pages written while the call runs are reported by this call
    /// or the next. Copy the returned pages after the call (as for migration); a write after
    /// the page was re-protected is reported again.
    ///
    /// - Parameter vcpus: the vCPUs whose dirty rings to harvest (ring tracking only).
    /// - Throws: the failed KVM operation (`dirtyLog`, `clearDirtyLog`, `harvestDirtyRing`,
    ///   `resetDirtyRings`), for example when ``tracking`` does not match the capability
    ///   enabled on the VM.
    public func collectDirtyPages(vcpus: [any DirtyRingHandle] = []) throws(KVMError) -> [GuestAddress] {
        try state.withLock { (state) throws(KVMError) in
            let map = try Self.currentMap(&state)
            var external = ExternalDirtyLog()
            switch tracking {
            case .off:
                break
            case .bitmap(let manualProtection):
                for entry in map.entries where !entry.region.isReadOnly {
                    external.bitmaps[entry.slot] = try vm.dirtyLog(slot: entry.slot.rawValue)
                }
                if manualProtection {
                    for (slot, bitmap) in external.bitmaps.sorted(by: { $0.key < $1.key })
                    where bitmap.contains(where: { $0 != 0 }) {
                        try vm.clearDirtyLog(slot: slot.rawValue, firstPage: 0, bitmap: bitmap)
                    }
                }
            case .ring:
                var pageCounts: [UInt32: UInt64] = [:]
                for entry in map.entries { pageCounts[entry.slot.rawValue] = entry.region.size / DirtyBitmap.pageSize }
                for vcpu in vcpus {
                    for page in try vcpu.harvestDirtyRing() {
                        guard let count = pageCounts[page.slot], page.pageOffset < count else { continue }
                        external.ringEntries.append(
                            DirtyRingEntry(slot: MemorySlot(page.slot), pageOffset: page.pageOffset))
                    }
                }
                try vm.resetDirtyRings()
            }
            do {
                return try map.collectDirtyPages(merging: external)
            } catch {
                // Unreachable with KVM (its bitmaps are sized by the slot, ring entries are
                // filtered above); a fake VM may return a bitmap longer than its slot.
                throw .invalidArgument("the VM's dirty log does not fit the registered map: \(error)")
            }
        }
    }
}
