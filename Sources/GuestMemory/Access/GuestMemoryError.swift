import SystemPackage

/// Every failure the GuestMemory target reports.
///
/// Accesses whose address or length come from the guest fail with one of these cases instead
/// of trapping, so a VMM can turn a bad guest request into an error for the device.
public enum GuestMemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `address + offset` does not fit in 64 bits (or `address - offset` is below zero).
    case addressOverflow(GuestAddress, offset: UInt64)
    /// No region of the map contains `address` (the first unmapped byte of an access).
    case unmapped(GuestAddress)
    /// A write reached `address`, which lies in a read-only region.
    case readOnly(GuestAddress)
    /// An atomic access at `address` is not aligned to `alignment` bytes.
    case misaligned(GuestAddress, alignment: Int)
    /// Two regions given to a map overlap.
    case overlappingRegions(GuestAddressRange, GuestAddressRange)
    /// A region's parameters are unusable (zero or unaligned size, unaligned file offset, …).
    case invalidRegion(String)
    /// Huge pages were requested but the host cannot provide them.
    case hugePagesUnavailable(String)
    /// A system call failed.
    case system(String, Errno)
    /// A dirty log names a memory slot that the map does not have.
    case unknownSlot(MemorySlot)
    /// A dirty log marks page `page` of `slot`, which lies beyond the end of that slot's region.
    case dirtyPageOutOfRange(MemorySlot, page: UInt64)
    /// A snapshot file is malformed.
    case invalidSnapshot(String)
    /// A file ended before an exact-length transfer completed.
    case unexpectedEndOfFile(expected: Int, transferred: Int)
    /// An access asked for a negative number of bytes.
    case negativeLength(Int)

    /// A one-line English description of the failure, naming the address, call or slot involved.
    public var description: String {
        switch self {
        case .addressOverflow(let a, let o): return "guest address \(a) + \(o) overflows 64 bits"
        case .negativeLength(let count): return "a length of \(count) bytes is negative"
        case .unmapped(let a): return "guest address \(a) is not mapped"
        case .readOnly(let a): return "guest address \(a) is in a read-only region"
        case .misaligned(let a, let n): return "guest address \(a) is not \(n)-byte aligned"
        case .overlappingRegions(let a, let b): return "regions \(a) and \(b) overlap"
        case .invalidRegion(let why): return "invalid region: \(why)"
        case .hugePagesUnavailable(let why): return "huge pages unavailable: \(why)"
        case .system(let call, let errno): return "\(call) failed: \(errno)"
        case .unknownSlot(let s): return "dirty log names unknown memory slot \(s.rawValue)"
        case .dirtyPageOutOfRange(let s, let p): return "dirty log page \(p) is beyond memory slot \(s.rawValue)"
        case .invalidSnapshot(let why): return "invalid snapshot: \(why)"
        case .unexpectedEndOfFile(let e, let t): return "file ended after \(t) of \(e) bytes"
        }
    }
}
