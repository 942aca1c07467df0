/// Where ``AddressAllocator/allocate(size:alignment:policy:within:)`` places a request.
///
/// Every policy is exact: it returns the same placement an exhaustive scan of all free
/// ranges would (see ``AddressAllocator`` for the cost of each search).
public enum AllocationPolicy: Hashable, Sendable, Codable {
    /// The lowest aligned address at which the request fits.
    case firstFit
    /// The highest aligned address at which the request fits.
    case lastFit
    /// The smallest free range that can hold the request (ties: the lowest such range),
    /// placed at its lowest aligned address.
    case bestFit
    /// Exactly this address, which must be aligned and free for the whole size.
    case exact(UInt64)
}
