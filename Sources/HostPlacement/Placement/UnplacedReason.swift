/// Why a request of a batch was left unplaced (``PlacementResult/unplacedReasons``).
public enum UnplacedReason: Hashable, Sendable {
    /// The request needs a resource that no host of the cluster has.
    case missingResource
    /// The strategy found no host with room for the request that its anti-affinity group
    /// allows.
    case noHostFits
    /// The request's affinity group, taken as one item (the total demand of its members in
    /// the batch, on one host that none of their anti-affinity groups excludes), fits on no
    /// single host, so none of its members was placed.
    case affinityGroupDoesNotFit(group: String)
    /// The request's affinity group is pinned to `host` by members placed there, and the
    /// request could not go there too.
    case affinityHostUnavailable(group: String, host: Int)
}

extension Cluster {
    /// The reason for `request`, which is not placed, as the cluster now stands.
    func unplacedReason(for request: PreparedRequest) -> UnplacedReason {
        guard request.isPlaceable else { return .missingResource }
        guard let group = request.request.affinityGroup else { return .noHostFits }
        if let host = affinityHost(of: group) { return .affinityHostUnavailable(group: group, host: host) }
        return .affinityGroupDoesNotFit(group: group)
    }
}
