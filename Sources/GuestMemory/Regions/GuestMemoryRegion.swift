import SystemPackage

/// A contiguous block of guest physical memory backed by host memory — the provider-side
/// protocol that backends (such as ``MmapRegion``) implement and ``GuestMemoryMap`` consumes.
///
/// Requirements on conforming types:
/// - `hostBase` points to `size` bytes of host memory that stay mapped for the lifetime of the
///   object (a map keeps its regions alive, so readers holding an old map stay safe).
/// - `guestBase` and `size` are multiples of ``DirtyBitmap/pageSize`` and the region does not
///   extend past 2^64 (``GuestMemoryMap`` checks this and rejects the region otherwise).
///
/// A KVM bridge registers a region as a memory slot with exactly these values:
/// `guest_phys_addr = guestBase`, `memory_size = size`, `userspace_addr = hostBase`,
/// `KVM_MEM_READONLY` when `isReadOnly`.
public protocol GuestMemoryRegion: AnyObject, Sendable {
    /// The first guest physical address of the region.
    var guestBase: GuestAddress { get }
    /// The size of the region in bytes.
    var size: UInt64 { get }
    /// The host address of the region's first byte.
    var hostBase: UnsafeMutableRawPointer { get }
    /// Whether writes through the GuestMemory API are refused.
    var isReadOnly: Bool { get }
    /// The bitmap recording writes made through the GuestMemory API, if tracking is enabled.
    var dirtyBitmap: DirtyBitmap? { get }
    /// The file and offset backing the region when it is file- or memfd-backed (for sharing
    /// the memory with another process, e.g. a vhost-user backend); `nil` for anonymous memory.
    var fileBacking: (descriptor: FileDescriptor, offset: Int64)? { get }
}

extension GuestMemoryRegion {
    /// The guest addresses the region covers, or `nil` if the region would extend past 2^64.
    public var guestRange: GuestAddressRange? {
        try? GuestAddressRange(start: guestBase, count: size)
    }
}
