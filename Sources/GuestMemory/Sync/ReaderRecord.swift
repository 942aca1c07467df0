import Synchronization

/// One thread's entry in a ``ReaderDomain``: which thread uses it and whether (and since which
/// epoch) that thread is reading.
///
/// Records live in the domain's table, each on its own 128-byte block so that two readers never
/// share a cache line. Only the owning thread writes `access` and `section`; writers and
/// reclaimers only read them.
@usableFromInline
struct ReaderRecord: ~Copyable {
    /// The `pthread_t` of the thread that owns the record, or 0 when it is free.
    @usableFromInline let owner: Atomic<UInt>
    /// 0 outside a short access (``ReaderDomain/beginAccess()``); inside, the domain's epoch
    /// when it began. Short accesses run no other code, so they never nest.
    @usableFromInline let access: Atomic<UInt64>
    /// 0 outside a read section (``ReaderDomain/enter()``); inside, the domain's epoch when the
    /// outermost section began. Sections nest, and short accesses happen inside them.
    @usableFromInline let section: Atomic<UInt64>
    /// The strong reference to the domain that the owning thread's exit destructor gives back
    /// (set and cleared by the owning thread only), so the table outlives every thread that can
    /// still name a record of it.
    var lease: Unmanaged<ReaderDomain>?

    init() {
        owner = Atomic(0)
        access = Atomic(0)
        section = Atomic(0)
        lease = nil
    }

    /// The bytes between consecutive records in the table.
    @inlinable static var stride: Int { 128 }
}

/// What ``ReaderDomain/enter()`` hands to ``ReaderDomain/exit(_:)``: the record used (or `nil`
/// for a thread that found no free record) and whether this section is the outermost one.
@usableFromInline
struct ReaderTicket {
    @usableFromInline let record: UnsafeMutablePointer<ReaderRecord>?
    @usableFromInline let isOutermost: Bool

    @inlinable init(record: UnsafeMutablePointer<ReaderRecord>?, isOutermost: Bool) {
        self.record = record
        self.isOutermost = isOutermost
    }
}
