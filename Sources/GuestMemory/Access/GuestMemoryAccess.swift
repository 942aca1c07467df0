/// Reading and writing guest memory by guest physical address — the consumer-side protocol
/// that device models and loaders program against (the analogue of rust-vmm's `Bytes`).
///
/// Conforming types implement three primitives; everything else (integers in either byte
/// order, trivially copyable values, byte arrays, atomics, file-descriptor transfers) is built
/// on them in extensions.
///
/// Contract of every access:
/// - The whole range `[address, address + count)` is checked against the map before any byte
///   moves; an access that wraps past 2^64, touches an unmapped byte (including a gap between
///   regions) or writes a read-only region fails with a ``GuestMemoryError`` and changes
///   nothing. Ranges may cross from one region into an adjacent one.
/// - A zero-length access succeeds at any address and touches nothing.
/// - Volatile semantics: every access really reads or writes guest memory (it is never cached,
///   elided or merged by the compiler). Naturally aligned accesses of 1, 2, 4 or 8 bytes are a
///   single load or store (atomic, relaxed), so they are never torn; longer or unaligned
///   accesses copy bytes with `memcpy`.
/// - Writes are recorded in the regions' ``DirtyBitmap`` when tracking is enabled.
public protocol GuestMemoryAccess: Sendable {
    /// Copies `buffer.count` bytes of guest memory at `address` into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError)

    /// Copies `bytes` into guest memory at `address`.
    func write(_ bytes: UnsafeRawBufferPointer, at address: GuestAddress) throws(GuestMemoryError)

    /// Checks `[address, address + count)` (for writing, if `forWriting`), then calls `body`
    /// with the host memory that backs it, one buffer per region crossed, in address order.
    ///
    /// `body` returns its result and how many leading bytes of the range it wrote (marked
    /// dirty). The buffers are valid only during `body`.
    func withHostSegments<Result>(
        at address: GuestAddress, count: Int, forWriting: Bool,
        _ body: (UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) throws(GuestMemoryError) -> (
            result: Result, bytesWritten: Int
        )
    ) throws(GuestMemoryError) -> Result
}
