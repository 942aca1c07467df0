import GuestMemory

extension UserMemoryRegion {
    /// The highest slot number a `MemorySlot` may have: KVM reads bits 16–31 of
    /// the slot as an address-space id, and the bridge registers everything in address space 0.
    public static let highestMemorySlot: UInt32 = 0xFFFF

    /// The KVM memory slot for a region of a `GuestMemoryMap`: slot
    /// `entry.slot`, the region's guest base, size and host address, `readOnly` when the region
    /// is read-only, and `logDirtyPages` when `logDirtyPages` is set and the region is writable
    /// (a read-only slot cannot be dirtied by the guest).
    ///
    /// The region must stay mapped for as long as KVM has the slot.
    ///
    /// - Throws: `.invalidArgument` when the slot number is above ``highestMemorySlot``.
    public init(_ entry: GuestMemoryMap.Entry, logDirtyPages: Bool) throws(KVMError) {
        guard entry.slot.rawValue <= UserMemoryRegion.highestMemorySlot else {
            throw .invalidArgument(
                "memory slot \(entry.slot.rawValue) is above \(UserMemoryRegion.highestMemorySlot) (bits 16–31 select an address space)"
            )
        }
        let region = entry.region
        var flags: MemoryRegionFlags = []
        if region.isReadOnly {
            flags.insert(.readOnly)
        } else if logDirtyPages {
            flags.insert(.logDirtyPages)
        }
        self.init(
            slot: entry.slot.rawValue, guestPhysicalAddress: region.guestBase.rawValue, size: region.size,
            userspaceAddress: UInt64(UInt(bitPattern: region.hostBase)), flags: flags)
    }
}
