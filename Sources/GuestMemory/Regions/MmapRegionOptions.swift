import SystemPackage

/// How an ``MmapRegion`` is backed and mapped.
public struct MmapRegionOptions: Sendable {
    /// What host memory backs the region.
    public enum Backing: Sendable {
        /// Anonymous memory, zero-filled. `shared: true` maps it `MAP_SHARED` (inherited across
        /// `fork`); otherwise `MAP_PRIVATE`.
        case anonymous(shared: Bool)
        /// The file `descriptor` starting at byte `offset` (a multiple of the host page size).
        /// `shared: true` writes through to the file; otherwise the mapping is copy-on-write.
        /// The region keeps its own duplicate of the descriptor. A regular file must cover
        /// `offset + size` bytes (checked) and must not be truncated while mapped: touching a
        /// page past its end raises `SIGBUS`.
        case file(FileDescriptor, offset: Int64, shared: Bool)
        /// A new `memfd_create(2)` file named `name`, sized to the region and mapped shared, so
        /// another process can map the same memory through ``MmapRegion/fileBacking``.
        case memfd(name: String)
    }

    /// Whether and how to use 2 MiB huge pages.
    public enum HugePages: Sendable {
        /// Ordinary pages.
        case none
        /// `MAP_HUGETLB` (anonymous backing) or `MFD_HUGETLB` (memfd backing) from the host's
        /// reserved huge-page pool. Fails with ``GuestMemoryError/hugePagesUnavailable(_:)``
        /// when the pool has too few free pages. The region size must be a multiple of 2 MiB.
        case hugetlb
        /// Transparent huge pages via `madvise(MADV_HUGEPAGE)` on a 2 MiB-aligned mapping.
        /// Fails with ``GuestMemoryError/hugePagesUnavailable(_:)`` when THP is disabled.
        case transparent
    }

    /// The backing memory. Default: private anonymous memory.
    public var backing: Backing
    /// Map the region `PROT_READ` only; the GuestMemory API refuses writes to it.
    public var readOnly: Bool
    /// Map with `MAP_NORESERVE` (no swap reservation: memory is committed as it is touched).
    public var noReserve: Bool
    /// Huge-page policy.
    public var hugePages: HugePages
    /// The number of `PROT_NONE` host pages placed before and after the region, so that a
    /// host-side overrun faults instead of corrupting a neighbouring mapping. 0 for none.
    public var guardPages: Int
    /// Allocate a ``DirtyBitmap`` that records every write made through the GuestMemory API.
    public var trackDirtyPages: Bool

    /// Options with the given values; every parameter has a conservative default.
    public init(
        backing: Backing = .anonymous(shared: false),
        readOnly: Bool = false,
        noReserve: Bool = false,
        hugePages: HugePages = .none,
        guardPages: Int = 0,
        trackDirtyPages: Bool = false
    ) {
        self.backing = backing
        self.readOnly = readOnly
        self.noReserve = noReserve
        self.hugePages = hugePages
        self.guardPages = guardPages
        self.trackDirtyPages = trackDirtyPages
    }
}
