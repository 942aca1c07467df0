/// Flags of a KVM user memory region.
public struct MemoryRegionFlags: OptionSet, Hashable, Sendable {
    /// The `KVM_MEM_*` bits.
    public let rawValue: UInt32
    /// The flags with bits `rawValue`.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Track guest writes to this slot in the dirty log or dirty ring (`KVM_MEM_LOG_DIRTY_PAGES`).
    public static let logDirtyPages = MemoryRegionFlags(rawValue: UInt32(KVM_MEM_LOG_DIRTY_PAGES))
    /// Guest writes exit to user space as MMIO instead of changing memory (`KVM_MEM_READONLY`).
    public static let readOnly = MemoryRegionFlags(rawValue: UInt32(KVM_MEM_READONLY))
}

/// A slot of guest physical memory backed by host memory (`struct kvm_userspace_memory_region`).
public struct UserMemoryRegion: Hashable, Sendable {
    /// The slot number (bits 16–31 select the address space where a host has several).
    public var slot: UInt32
    /// Dirty logging and read-only.
    public var flags: MemoryRegionFlags
    /// Guest physical address of the first byte; page aligned.
    public var guestPhysicalAddress: UInt64
    /// Size in bytes; a multiple of the page size. Zero deletes the slot.
    public var size: UInt64
    /// Host virtual address of the backing memory; page aligned.
    public var userspaceAddress: UInt64

    /// A slot mapping `size` bytes at guest physical address `guestPhysicalAddress` to the host
    /// memory at `userspaceAddress`.
    public init(
        slot: UInt32, guestPhysicalAddress: UInt64, size: UInt64, userspaceAddress: UInt64,
        flags: MemoryRegionFlags = []
    ) {
        self.slot = slot
        self.flags = flags
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
        self.userspaceAddress = userspaceAddress
    }

    /// Convenience for a region backed by `pointer`.
    public init(
        slot: UInt32, guestPhysicalAddress: UInt64, size: Int, memory pointer: UnsafeMutableRawPointer,
        flags: MemoryRegionFlags = []
    ) {
        self.init(
            slot: slot, guestPhysicalAddress: guestPhysicalAddress, size: UInt64(size),
            userspaceAddress: UInt64(UInt(bitPattern: pointer)), flags: flags)
    }

    /// Number of 4 KiB pages in the slot (the unit of the dirty log).
    public var pageCount: Int { Int(size / 4096) }

    var raw: kvm_userspace_memory_region {
        kvm_userspace_memory_region(
            slot: slot, flags: flags.rawValue, guest_phys_addr: guestPhysicalAddress,
            memory_size: size, userspace_addr: userspaceAddress)
    }
}
