/// Why an ``AddressAllocator`` operation failed.
public enum AddressAllocatorError: Error, Hashable, Sendable {
    /// A request or an allocator space of size zero.
    case zeroSize
    /// The alignment is zero or not a power of two.
    case invalidAlignment(UInt64)
    /// An exact address that is not a multiple of the requested alignment.
    case misaligned(address: UInt64, alignment: UInt64)
    /// An address computation (`start + size`) would not fit in 64 bits.
    case overflow
    /// No free range can hold the request under the chosen policy and constraint.
    case outOfSpace(size: UInt64, alignment: UInt64)
    /// An exact request that overlaps an existing allocation.
    case overlapsAllocation(AddressRange)
    /// An exact request or a constraint that is not inside the allocator's space.
    case outsideSpace(AddressRange)
    /// `free` of a range that is not exactly one live allocation (never allocated, or already freed).
    case notAllocated(AddressRange)
}
