/// Runs `body` with zeroed storage for a C structure `Header` followed by `count` elements of
/// `Entry` (the kernel's flexible-array structures: `kvm_cpuid2`, `kvm_msrs`, `kvm_irq_routing`,
/// `kvm_msr_list`, `kvm_signal_mask`).
///
/// `count` is always a value this library chose or the kernel returned for a buffer it sized,
/// never a guest-controlled number; it is bounded by `maximumFlexibleCount` all the same.
func withFlexibleArray<Header, Entry, Result>(
    header: Header.Type, entry: Entry.Type, count: Int,
    _ body: (UnsafeMutablePointer<Header>, UnsafeMutablePointer<Entry>) throws(KVMError) -> Result
) throws(KVMError) -> Result {
    guard count >= 0, count <= maximumFlexibleCount else {
        throw .invalidArgument("\(count) entries exceed the limit of \(maximumFlexibleCount)")
    }
    // Entries start at the end of the header, rounded up to the entry's alignment, which is
    // where C places a flexible array member.
    let alignment = max(MemoryLayout<Header>.alignment, MemoryLayout<Entry>.alignment)
    let entriesOffset =
        (MemoryLayout<Header>.size + MemoryLayout<Entry>.alignment - 1)
        & ~(MemoryLayout<Entry>.alignment - 1)
    let byteCount = entriesOffset + max(count, 1) * MemoryLayout<Entry>.stride
    let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: alignment)
    defer { raw.deallocate() }
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
    let headerPointer = raw.bindMemory(to: Header.self, capacity: 1)
    let entries = (raw + entriesOffset).bindMemory(to: Entry.self, capacity: max(count, 1))
    return try body(headerPointer, entries)
}

/// Calls `attempt` with a capacity that doubles, from `startingCapacity`, while the kernel
/// answers `E2BIG` (the buffer was too small), up to `maximumFlexibleCount`.
func withGrowingCapacity<R>(
    startingCapacity: Int, _ attempt: (Int) throws(KVMError) -> R
) throws(KVMError) -> R {
    var capacity = startingCapacity
    while true {
        do {
            return try attempt(capacity)
        } catch let error where error.errno == .argListTooLong && capacity < maximumFlexibleCount {
            capacity *= 2
        }
    }
}

/// The largest flexible array this library builds (entries, not bytes).
let maximumFlexibleCount = 1 << 16

/// `Array.withUnsafeMutableBytes` with a typed-throwing body (the standard one rethrows
/// untyped errors).
func withMutableBytes<T, R>(
    of array: inout [T], _ body: (UnsafeMutableRawBufferPointer) throws(KVMError) -> R
) throws(KVMError) -> R {
    let result: Result<R, KVMError> = array.withUnsafeMutableBytes { raw in
        do throws(KVMError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}
