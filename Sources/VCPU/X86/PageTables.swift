import GuestMemory

/// The size of the pages of an identity map.
public enum IdentityPageSize: Sendable {
    /// 2 MiB pages: PML4 → PDPT → page directories. Every x86_64 CPU has them.
    case twoMiB
    /// 1 GiB pages: PML4 → PDPT only. Needs CPUID 0x8000_0001 EDX bit 26 (pdpe1gb).
    case oneGiB
}

/// Identity-mapped 4-level page tables for the low `size` bytes of guest memory, in the layout
/// Firecracker and Cloud Hypervisor use: PML4 at `base` (0x9000), PDPT at `base + 0x1000`, and
/// (for 2 MiB pages) page directories from `base + 0x2000`, one per GiB.
public struct IdentityPageTables: Sendable {
    /// Where the PML4 goes (page aligned); the PDPT and page directories follow it.
    public let base: GuestAddress
    /// How many bytes from guest physical address 0 are identity-mapped (rounded up to whole
    /// pages of ``pageSize``).
    public let size: UInt64
    /// The page size of the mapping.
    public let pageSize: IdentityPageSize

    /// At most one PDPT's worth: 512 GiB.
    public static let maximumSize: UInt64 = 512 << 30

    /// The guest memory the tables occupy.
    public var footprint: UInt64 {
        switch pageSize {
        case .oneGiB: 0x2000
        case .twoMiB: 0x2000 + 0x1000 * ((size + (1 << 30) - 1) >> 30)
        }
    }

    /// The CR3 value that selects these tables.
    public var cr3: UInt64 { base.rawValue }

    /// Tables at `base` that identity-map the low `size` bytes with `pageSize` pages.
    ///
    /// - Throws: ``X86SetupError/invalidIdentityMapSize(_:)`` unless `size` is 1 byte to
    ///   ``maximumSize``; ``X86SetupError/misaligned(_:_:)`` when `base` is not page aligned.
    public init(base: GuestAddress = GuestAddress(0x9000), size: UInt64, pageSize: IdentityPageSize = .twoMiB)
        throws(X86SetupError)
    {
        guard size > 0, size <= Self.maximumSize else { throw .invalidIdentityMapSize(size) }
        guard base.isAligned(to: 4096) else { throw .misaligned("page-table base", base.rawValue) }
        self.base = base
        self.size = size
        self.pageSize = pageSize
    }

    /// Writes the tables into guest memory (``footprint`` bytes from ``base``, zeroed first).
    ///
    /// - Throws: ``X86SetupError/memory(_:)`` when the memory is missing or read-only.
    public func write(to memory: some GuestMemoryAccess) throws(X86SetupError) {
        let present: UInt64 = 0x3  // present | writable
        let largePage: UInt64 = 0x80
        let pdpt = base.rawValue + 0x1000
        do {
            try memory.fill(0, count: Int(footprint), at: base)
            try memory.write(pdpt | present, at: base)
            switch pageSize {
            case .oneGiB:
                let count = (size + (1 << 30) - 1) >> 30
                for i in 0..<count {
                    try memory.write((i << 30) | present | largePage, at: GuestAddress(pdpt + i * 8))
                }
            case .twoMiB:
                let count = (size + (2 << 20) - 1) >> 21
                for i in 0..<count {
                    let directory = base.rawValue + 0x2000 + (i / 512) * 0x1000
                    if i % 512 == 0 {
                        try memory.write(directory | present, at: GuestAddress(pdpt + (i / 512) * 8))
                    }
                    try memory.write((i << 21) | present | largePage, at: GuestAddress(directory + (i % 512) * 8))
                }
            }
        } catch {
            throw .memory(error)
        }
    }
}
