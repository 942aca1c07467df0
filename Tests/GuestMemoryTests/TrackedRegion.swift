import GuestMemory
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Which tracked regions have been released, and how many.
final class ReleaseLedger: @unchecked Sendable {
    // @unchecked: `flags` is allocated once in init and freed once in deinit, and between the
    // two it is only accessed through its atomics.
    private let flags: UnsafeMutablePointer<Atomic<Bool>>
    private let capacity: Int
    private let count = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        flags = .allocate(capacity: capacity)
        for i in 0..<capacity { (flags + i).initialize(to: Atomic(false)) }
    }

    deinit {
        flags.deinitialize(count: capacity)
        flags.deallocate()
    }

    /// The number of regions released so far.
    var releases: Int { count.load(ordering: .acquiring) }

    /// Whether the region `id` has been released.
    func isReleased(_ id: Int) -> Bool { flags[id].load(ordering: .acquiring) }

    fileprivate func recordRelease(_ id: Int) {
        let wasReleased = flags[id].exchange(true, ordering: .acquiringAndReleasing)
        precondition(!wasReleased, "region \(id) released twice")
        count.add(1, ordering: .acquiringAndReleasing)
    }
}

/// Host memory for tracked regions, page by page; each region holds the pool, so the memory
/// outlives them all: a region released too early is poisoned rather than unmapped, and a reader
/// still using it reads the poison instead of crashing.
final class RegionPool: @unchecked Sendable {
    // @unchecked: `base` is allocated once in init and freed once in deinit; each page is handed
    // out once (`next` is atomic), and its bytes are guest memory, accessed through
    // GuestMemoryAccess (atomics or memcpy) or by its region's init and deinit.
    private let base: UnsafeMutableRawPointer
    private let pages: Int
    private let next = Atomic<Int>(0)

    init(pages: Int) {
        self.pages = pages
        base = .allocate(byteCount: pages * Int(page), alignment: Int(page))
    }

    deinit { base.deallocate() }

    /// A fresh page.
    func take() -> UnsafeMutableRawPointer {
        let index = next.add(1, ordering: .relaxed).oldValue
        precondition(index < pages, "region pool exhausted")
        return base + index * Int(page)
    }
}

/// A one-page region that says who it is and records its release: its first 8 bytes hold its
/// `id`, the others ``pattern(of:)``; on release it overwrites them all with ``poison`` and
/// marks itself released in its ledger.
final class TrackedRegion: GuestMemoryRegion, @unchecked Sendable {
    // @unchecked: every stored property is immutable; the page is guest memory (see RegionPool).
    static let poison: UInt8 = 0xDD

    /// The byte that fills region `id` after its first 8 bytes (never ``poison``).
    static func pattern(of id: Int) -> UInt8 { UInt8(id % 200 + 1) }

    let id: Int
    let guestBase: GuestAddress
    let hostBase: UnsafeMutableRawPointer
    let ledger: ReleaseLedger
    /// Keeps the page's memory allocated for as long as the region exists.
    let pool: RegionPool
    var size: UInt64 { page }
    var isReadOnly: Bool { false }
    var dirtyBitmap: DirtyBitmap? { nil }
    var fileBacking: (descriptor: FileDescriptor, offset: Int64)? { nil }

    init(id: Int, at base: UInt64, pool: RegionPool, ledger: ReleaseLedger) {
        self.id = id
        guestBase = GuestAddress(base)
        hostBase = pool.take()
        self.ledger = ledger
        self.pool = pool
        hostBase.initializeMemory(as: UInt8.self, repeating: Self.pattern(of: id), count: Int(page))
        hostBase.storeBytes(of: UInt64(id).littleEndian, as: UInt64.self)
    }

    deinit {
        // Relaxed atomic stores: a reader that (wrongly) still uses the page may read it meanwhile.
        let words = hostBase.assumingMemoryBound(to: Atomic<UInt64>.self)
        let poisonWord = UInt64(Self.poison) * 0x0101_0101_0101_0101
        for i in 0..<Int(page) / 8 { words[i].store(poisonWord, ordering: .relaxed) }
        ledger.recordRelease(id)
    }
}
