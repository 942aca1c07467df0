/// What a strategy places in one decision: a single request, or all the members of an
/// affinity group in a batch taken together, so that the group goes on one host as a whole
/// or not at all.
///
/// Build units with ``Cluster/placementUnits(for:)``, test hosts with
/// ``Cluster/canPlace(_:on:)-(PlacementUnit,_)`` and place them with
/// ``Cluster/commit(_:on:)-(PlacementUnit,_)``. Order and score them through ``item``, which
/// has the same shape as any request, so size keys (``DemandSizeKey``) and host scores
/// (``HostScoringStrategy/score(_:host:in:)``) work on groups unchanged.
public struct PlacementUnit: Sendable {
    /// The requests placed together, in the order they were given.
    public let members: [PreparedRequest]
    /// The combined item. For a single request, the request itself. For a group, a request
    /// whose id is the group's name, whose demand (exact, dense and normalised) is the
    /// members' total and whose index is the first member's; never commit it, commit the unit.
    /// Not placeable when a member is not, when two members share an anti-affinity group,
    /// or when the total does not fit in 64 bits.
    public let item: PreparedRequest
    /// The members' anti-affinity groups, without repeats, sorted.
    public let antiAffinityGroups: [String]

    /// The affinity group placed as a whole, `nil` for a single request.
    public var affinityGroup: String? { members.count > 1 ? item.request.affinityGroup : nil }
    /// The first member's position in the batch: unique among the units of one batch and
    /// the tie-breaker of the built-in strategies.
    public var index: Int { item.index }

    fileprivate init(members: [PreparedRequest], in cluster: Cluster) {
        self.members = members
        let anti = members.compactMap(\.request.antiAffinityGroup)
        antiAffinityGroups = Set(anti).sorted()
        let first = members[0]
        guard members.count > 1, let group = first.request.affinityGroup else {
            item = first
            return
        }
        var total = ResourceVector()
        var overflow = false
        for member in members {
            for (kind, amount) in member.request.demand.amounts {
                let (sum, carry) = total[kind].addingReportingOverflow(amount)
                total[kind] = sum
                overflow = overflow || carry
            }
        }
        let combined = cluster.prepare(
            PlacementRequest(id: group, demand: total, affinityGroup: group),
            index: first.index)
        let placeable =
            combined.isPlaceable && !overflow && anti.count == antiAffinityGroups.count
            && members.allSatisfy(\.isPlaceable)
        item = PreparedRequest(
            request: combined.request, index: combined.index, demand: combined.demand,
            normalizedDemand: combined.normalizedDemand, isPlaceable: placeable)
    }
}

extension Cluster {
    /// Splits `requests` into the units a strategy places: the members of each affinity
    /// group form one unit, every other request a unit of its own. A group already pinned
    /// to a host (``affinityHost(of:)``, members placed earlier) is not combined: each
    /// remaining member is its own unit and can only go to that host.
    ///
    /// Units come in the order of their first member in `requests`, members in `requests`
    /// order, so the result is deterministic. Custom strategies can place these units to
    /// get the same all-or-nothing groups as the built-in ones.
    public func placementUnits(for requests: [PreparedRequest]) -> [PlacementUnit] {
        var slots: [String: Int] = [:]
        var groups: [[PreparedRequest]] = []
        for request in requests {
            if let group = request.request.affinityGroup, affinityHost(of: group) == nil {
                if let slot = slots[group] {
                    groups[slot].append(request)
                    continue
                }
                slots[group] = groups.count
            }
            groups.append([request])
        }
        return groups.map { PlacementUnit(members: $0, in: self) }
    }

    /// Whether all of `unit` fits on `host` at once: its total demand fits, its affinity
    /// group is not pinned elsewhere and none of its anti-affinity groups has a member there.
    public func canPlace(_ unit: PlacementUnit, on host: Int) -> Bool {
        canPlace(unit.item, on: host) && unit.antiAffinityGroups.allSatisfy { !hasAntiAffinityMember($0, on: host) }
    }

    /// Places every member of `unit` on `host`, or throws the error of the first member
    /// that could not be committed after removing the members already committed, leaving
    /// the cluster as it was.
    public mutating func commit(_ unit: PlacementUnit, on host: Int) throws(PlacementError) {
        var committed: [String] = []
        do {
            for member in unit.members {
                try commit(member, on: host)
                committed.append(member.request.id)
            }
        } catch {
            for id in committed.reversed() { try? remove(id) }
            throw error
        }
    }
}
