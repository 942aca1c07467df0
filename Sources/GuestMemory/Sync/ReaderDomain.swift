import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Reads without a lock or a reference count: epoch-based reclamation with one record per
/// reading thread, the mechanism behind ``AtomicGuestMemory``'s read path.
///
/// A reader announces itself in its record (the current epoch), loads a shared pointer, uses the
/// object without retaining it, and clears its record (0). A writer swaps the pointer, then
/// ``retire(_:)``s the old object: it advances the epoch and keeps the object, tagged with the
/// epoch before the advance, until no reader that announced itself at or before that tag is
/// still reading. A retired object is therefore never released while a reader may still use it,
/// and it is released as soon as the last such reader is done — by the writer if no reader was
/// in the way, otherwise by the last of those readers on its way out (it checks ``pending``).
/// Writers never wait for readers.
///
/// A record has two announcements: a *short access* (``beginAccess()``, ``endAccess(_:)``)
/// copies a few bytes and runs no other code, so it cannot nest and needs no nesting check —
/// the inlined fast path of every read and write; a *section* (``enter()``, ``exit(_:)``) may run
/// any code (a caller's closure, other accesses, even a hotplug) and nests.
///
/// A short access costs a `pthread_self()` call, three loads, two plain stores to the thread's
/// own cache line and two compiler barriers — no read-modify-write, no fence instruction, no
/// shared cache line written — when ``ProcessMemoryBarrier`` is available: the writer then
/// fences every running thread before it trusts what it reads from the records. Without it (an
/// old kernel, a seccomp filter) every read takes a section, whose stores are sequentially
/// consistent (a full fence each).
///
/// A thread finds its record with one load: the records form a table indexed by a hash of the
/// thread's id (`pthread_self()`), each tagged with its owner. A thread whose slot is taken
/// claims another record and reaches it through a thread-specific value (sections only); a
/// thread's record is freed when the thread exits. If every record is taken, a thread counts
/// itself in ``overflowReaders`` (an atomic add per section), which holds back every reclamation
/// while it reads.
@usableFromInline
final class ReaderDomain: @unchecked Sendable {
    // @unchecked: the record table is only written through its atomics (owner, access, section)
    // or, for a record's lease, by the record's owning thread; the retire list is behind a Mutex; every
    // other stored property is immutable after init. The table is allocated in init and freed
    // once in deinit, which cannot run while a thread still holds a record: a claimed record
    // holds a strong reference to the domain (its lease) until the thread's exit destructor
    // returns it.

    /// The domain of every ``AtomicGuestMemory`` (tests make their own).
    static let shared = ReaderDomain(capacity: 256)

    /// `capacity` records, ``ReaderRecord/stride`` bytes apart.
    @usableFromInline let records: UnsafeMutableRawPointer
    /// `64 - log2(capacity)`: the shift that turns a 64-bit hash into a record index.
    @usableFromInline let hashShift: UInt64
    /// The number of records (a power of two).
    let capacity: Int
    /// Whether readers rely on ``ProcessMemoryBarrier`` (compiler barriers on the read side)
    /// rather than on full fences.
    @usableFromInline let asymmetric: Bool
    /// The current epoch (starts at 1, so that 0 in a record means "not reading").
    @usableFromInline let epoch = Atomic<UInt64>(1)
    /// The number of retired objects not yet released; a reader that ends an access or its
    /// outermost section while it is not zero releases those it no longer holds back.
    @usableFromInline let pending = Atomic<Int>(0)
    /// Threads in a section without a record (every record was taken).
    let overflowReaders = Atomic<Int>(0)
    /// Retired objects and how far the process-wide barrier has covered them.
    let retired = Mutex(RetireList())
    /// Finds a thread's record when it is not in its hash slot, and frees it when the thread exits.
    let threadKey: pthread_key_t

    /// A domain of `capacity` records (rounded up to a power of two, at least 2); readers use
    /// compiler barriers when `asymmetric` (only when ``ProcessMemoryBarrier`` is available).
    init(capacity: Int, asymmetric: Bool = ProcessMemoryBarrier.isAvailable) {
        precondition(!asymmetric || ProcessMemoryBarrier.isAvailable, "membarrier(2) is not available")
        var bits: UInt64 = 1
        while 1 << bits < capacity { bits += 1 }
        self.capacity = 1 << bits
        hashShift = 64 - bits
        self.asymmetric = asymmetric
        records = .allocate(byteCount: self.capacity * ReaderRecord.stride, alignment: ReaderRecord.stride)
        for index in 0..<self.capacity {
            (records + index * ReaderRecord.stride).initializeMemory(as: ReaderRecord.self, to: ReaderRecord())
        }
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { value in
            value.map { ReaderDomain.threadExited($0.assumingMemoryBound(to: ReaderRecord.self)) }
        }
        precondition(status == 0, "pthread_key_create failed (\(status))")
        threadKey = key
    }

    deinit {
        pthread_key_delete(threadKey)
        for index in 0..<capacity { record(index).deinitialize(count: 1) }
        records.deallocate()
    }

    /// The record at `index`.
    @inlinable @inline(__always)
    func record(_ index: Int) -> UnsafeMutablePointer<ReaderRecord> {
        (records + index &* ReaderRecord.stride).assumingMemoryBound(to: ReaderRecord.self)
    }

    /// The index of `thread`'s hash slot (Fibonacci hashing of the `pthread_t`).
    @inlinable @inline(__always)
    func home(of thread: UInt) -> Int {
        Int(truncatingIfNeeded: (UInt64(thread) &* 0x9E37_79B9_7F4A_7C15) &>> hashShift)
    }

    // MARK: Short accesses

    /// Begins a short access on the calling thread and returns its record, or returns `nil`
    /// (the caller then uses a section, ``enter()``) unless the record sits in the thread's hash
    /// slot and readers use the process-wide barrier (in the other mode no record is filed under
    /// its thread's plain id).
    ///
    /// A short access loads a shared pointer, reads or writes through it and ends with
    /// ``endAccess(_:)``; it runs no other code in between (no closure, no other access), which is
    /// why it needs no nesting check. Everything loaded (sequentially consistent) after this
    /// stays valid until ``endAccess(_:)``.
    @inlinable @inline(__always)
    func beginAccess() -> UnsafeMutablePointer<ReaderRecord>? {
        let thread = UInt(pthread_self())
        let record = record(home(of: thread))
        guard record.pointee.owner.load(ordering: .relaxed) == thread else { return nil }
        // Acquiring: an access that sees an advanced epoch also sees the pointer swapped before
        // it. The store must stay before the caller's pointer load: the compiler barrier keeps
        // the compiler from reordering them, and the writer's ProcessMemoryBarrier.run() stands
        // in for the processor's fence.
        record.pointee.access.store(epoch.load(ordering: .acquiring), ordering: .relaxed)
        compilerBarrier()
        return record
    }

    /// Ends an access begun by ``beginAccess()``; returns `false` when retired objects are
    /// waiting (the caller then calls ``reclaim()``, out of line).
    @inlinable @inline(__always)
    func endAccess(_ record: UnsafeMutablePointer<ReaderRecord>) -> Bool {
        // Releasing: everything the access did happens before a reclaimer sees the 0.
        record.pointee.access.store(0, ordering: .releasing)
        compilerBarrier()
        // Pairs with retire(_:): either the writer's scan (after its barrier) sees the 0 above,
        // or this load sees the writer's count.
        return pending.load(ordering: .sequentiallyConsistent) == 0
    }

    /// A fence that emits no instruction on x86-64 but that the compiler does not move memory
    /// accesses across (Swift has no `atomic_signal_fence`; an acquire-release fence is the
    /// closest, and is a `dmb ish` on AArch64).
    @inlinable @inline(__always)
    func compilerBarrier() {
        atomicMemoryFence(ordering: .acquiringAndReleasing)
    }

    // MARK: Sections

    /// Begins a read section on the calling thread: everything loaded (sequentially consistent)
    /// after this and before the matching ``exit(_:)`` stays valid until then, even if it is
    /// swapped out and retired meanwhile. Sections nest and may run any code, short accesses
    /// included.
    ///
    /// The thread's record is the one in its hash slot, or the one its thread-specific value
    /// names, or one it claims now; without a free record the thread counts itself in
    /// ``overflowReaders``.
    @usableFromInline @inline(never)
    func enter() -> ReaderTicket {
        guard let record = ownRecord() else {
            overflowReaders.add(1, ordering: .sequentiallyConsistent)
            return ReaderTicket(record: nil, isOutermost: true)
        }
        guard record.pointee.section.load(ordering: .relaxed) == 0 else {
            // Nested: the outer section's older epoch already protects everything retired since.
            return ReaderTicket(record: record, isOutermost: false)
        }
        let now = epoch.load(ordering: .acquiring)
        if asymmetric {
            record.pointee.section.store(now, ordering: .relaxed)
            compilerBarrier()
        } else {
            record.pointee.section.store(now, ordering: .sequentiallyConsistent)
        }
        return ReaderTicket(record: record, isOutermost: true)
    }

    /// Ends the section `ticket` began, and releases retired objects if it was the thread's
    /// outermost section and some are waiting.
    @usableFromInline @inline(never)
    func exit(_ ticket: ReaderTicket) {
        guard ticket.isOutermost else { return }
        if let record = ticket.record {
            if asymmetric {
                record.pointee.section.store(0, ordering: .releasing)
                compilerBarrier()
            } else {
                record.pointee.section.store(0, ordering: .sequentiallyConsistent)
            }
        } else {
            overflowReaders.subtract(1, ordering: .sequentiallyConsistent)
        }
        if pending.load(ordering: .sequentiallyConsistent) != 0 { reclaim() }
    }

    /// The calling thread's record, claimed now if it has none; `nil` if every record is taken.
    private func ownRecord() -> UnsafeMutablePointer<ReaderRecord>? {
        let thread = UInt(pthread_self())
        if let value = pthread_getspecific(threadKey) { return value.assumingMemoryBound(to: ReaderRecord.self) }
        // Filed under the plain id but not through this thread's claim: left by an earlier thread
        // with the same id whose exit destructor did not run. It is idle, and as good as any.
        if record(home(of: thread)).pointee.owner.load(ordering: .relaxed) == thread { return record(home(of: thread)) }
        return claim(for: thread)
    }

    /// Takes the first free record from `thread`'s hash slot on, or `nil` if all are taken.
    ///
    /// With full fences the record is filed under `~thread`, which no thread has (a `pthread_t`
    /// is the address of a thread's control block, below 2^63), so ``beginAccess()`` never takes
    /// it and every section goes through the fenced slow path.
    private func claim(for thread: UInt) -> UnsafeMutablePointer<ReaderRecord>? {
        let start = home(of: thread)
        let tag = asymmetric ? thread : ~thread
        for step in 0..<capacity {
            let record = record((start + step) & (capacity - 1))
            if record.pointee.owner.compareExchange(expected: 0, desired: tag, ordering: .acquiringAndReleasing)
                .exchanged
            {
                record.pointee.lease = Unmanaged.passRetained(self)
                pthread_setspecific(threadKey, record)
                return record
            }
        }
        return nil
    }

    /// The exit destructor of a thread that claimed `record`: frees the record and returns the
    /// thread's lease on the domain (which may release it).
    private static func threadExited(_ record: UnsafeMutablePointer<ReaderRecord>) {
        let lease = record.pointee.lease
        record.pointee.lease = nil
        record.pointee.owner.store(0, ordering: .releasing)
        lease?.release()
    }
}
