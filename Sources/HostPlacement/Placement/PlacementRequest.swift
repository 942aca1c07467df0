/// A VM (or any workload) to place on one host of a ``Cluster``.
public struct PlacementRequest: Hashable, Sendable, Codable {
    /// A caller-chosen identifier, unique within the cluster.
    public var id: String
    /// What the request needs of each resource.
    public var demand: ResourceVector
    /// Requests with the same affinity group must share one host. The built-in strategies
    /// place a group's members of a batch as one ``PlacementUnit``: all on a single host that
    /// holds their total demand, or none of them. Once members are placed the group is pinned
    /// to their host (``Cluster/affinityHost(of:)``): later members go there or stay unplaced.
    public var affinityGroup: String?
    /// Requests with the same anti-affinity group must be on distinct hosts.
    public var antiAffinityGroup: String?

    /// A request with the given demand and optional groups.
    public init(id: String, demand: ResourceVector, affinityGroup: String? = nil, antiAffinityGroup: String? = nil) {
        self.id = id
        self.demand = demand
        self.affinityGroup = affinityGroup
        self.antiAffinityGroup = antiAffinityGroup
    }
}

/// A request in a batch being placed, with its demand as a dense vector over the
/// cluster's dimensions (``Cluster/dimensions``).
public struct PreparedRequest: Sendable {
    /// The request.
    public let request: PlacementRequest
    /// Position in the batch, the final tie-breaker of every built-in strategy.
    public let index: Int
    /// Demand per cluster dimension.
    public let demand: [UInt64]
    /// Demand per dimension divided by the largest allocatable amount of that dimension
    /// on any host (the usual normalisation for vector bin packing).
    public let normalizedDemand: [Double]
    /// False when the request needs a resource no host of the cluster has.
    public let isPlaceable: Bool
}

/// Why a placement operation failed.
public enum PlacementError: Error, Hashable, Sendable {
    /// A host index outside the cluster.
    case unknownHost(Int)
    /// A request id already placed, or repeated in a batch.
    case duplicateRequest(String)
    /// No request with this id is placed.
    case unknownRequest(String)
    /// The host lacks a resource (the admission error names it).
    case doesNotFit(AdmissionError)
    /// The request's affinity group is already on another host.
    case affinityConflict(group: String, host: Int)
    /// The request's anti-affinity group already has a member on this host.
    case antiAffinityConflict(group: String, host: Int)
}

/// What a batch placement did.
public struct PlacementResult: Hashable, Sendable {
    /// Request id to host index, for every request placed.
    public var assignments: [String: Int]
    /// Ids of the requests that could not be placed, in batch order.
    public var unplaced: [String]
    /// Why each request of ``unplaced`` was not placed, by id.
    public var unplacedReasons: [String: UnplacedReason]
    /// Number of hosts that hold at least one placed request after the batch.
    public var hostsUsed: Int
}
