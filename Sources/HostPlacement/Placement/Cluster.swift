/// A set of hosts that requests are placed on, enforcing capacities and affinity rules.
///
/// Every placement goes through ``commit(_:on:)-(PreparedRequest,_)``, which admits the
/// request on the ``HostResources`` and checks affinity and anti-affinity, so a
/// ``PlacementStrategy`` can choose badly but never violate a constraint. Strategies place
/// an affinity group of a batch as one ``PlacementUnit`` (see ``placementUnits(for:)``):
/// all its members on one host, or none. Capacities are also mirrored in a dense host-major
/// array so strategies can scan 1000s of hosts quickly.
public struct Cluster: Sendable {
    /// The hosts, in the order strategies break ties by (lowest index first).
    public private(set) var hosts: [HostResources]
    /// Every resource kind any host can allocate, sorted by name.
    public let dimensions: [ResourceKind]
    /// Available amount per host and dimension: `available[host * dimensions.count + d]`.
    public private(set) var available: [UInt64]
    /// Allocatable amount per host and dimension, same layout as ``available``.
    public let allocatable: [UInt64]
    /// `1 / max allocatable` per dimension over all hosts (0 for an empty dimension).
    public let normalization: [Double]

    private var placements: [String: (host: Int, admission: Admission, request: PlacementRequest)] = [:]
    private var affinityHosts: [String: (host: Int, members: Int)] = [:]
    private var antiAffinityHosts: [String: [Int: Int]] = [:]
    private var requestsPerHost: [Int]

    /// A cluster of `hosts` (their current admissions count as used capacity).
    public init(hosts: [HostResources]) {
        self.hosts = hosts
        let dimensions = Set(hosts.flatMap(\.allocatable.kinds)).sorted()
        self.dimensions = dimensions
        var available: [UInt64] = [], allocatable: [UInt64] = []
        available.reserveCapacity(hosts.count * dimensions.count)
        allocatable.reserveCapacity(hosts.count * dimensions.count)
        var largest = [UInt64](repeating: 0, count: dimensions.count)
        for host in hosts {
            for (d, kind) in dimensions.enumerated() {
                available.append(host.available(kind))
                allocatable.append(host.allocatable[kind])
                largest[d] = Swift.max(largest[d], host.allocatable[kind])
            }
        }
        self.available = available
        self.allocatable = allocatable
        normalization = largest.map { $0 == 0 ? 0 : 1 / Double($0) }
        requestsPerHost = [Int](repeating: 0, count: hosts.count)
    }

    /// The dense form of `request`, `index` being its position in a batch.
    public func prepare(_ request: PlacementRequest, index: Int = 0) -> PreparedRequest {
        var placeable = true
        for kind in request.demand.kinds where dimensions.firstIndex(of: kind) == nil { placeable = false }
        let demand = dimensions.map { request.demand[$0] }
        let normalized = zip(demand, normalization).map { Double($0) * $1 }
        return PreparedRequest(
            request: request, index: index, demand: demand, normalizedDemand: normalized,
            isPlaceable: placeable)
    }

    /// The host a request id is placed on.
    public func host(of id: String) -> Int? { placements[id]?.host }

    /// Number of requests placed on `host`.
    public func requestCount(on host: Int) -> Int {
        requestsPerHost.indices.contains(host) ? requestsPerHost[host] : 0
    }

    /// Number of hosts holding at least one placed request.
    public var hostsUsed: Int { requestsPerHost.count { $0 > 0 } }

    /// The host an affinity group is pinned to, if any member is placed.
    public func affinityHost(of group: String) -> Int? { affinityHosts[group]?.host }

    /// Whether `request` fits on `host` and satisfies its affinity rules there.
    @inline(__always)
    public func canPlace(_ request: PreparedRequest, on host: Int) -> Bool {
        guard request.isPlaceable, host >= 0, host < hosts.count else { return false }
        let d = dimensions.count
        let base = host * d
        for j in 0..<d where available[base + j] < request.demand[j] { return false }
        if let group = request.request.affinityGroup, let pinned = affinityHosts[group], pinned.host != host {
            return false
        }
        if let group = request.request.antiAffinityGroup, hasAntiAffinityMember(group, on: host) { return false }
        return true
    }

    /// Whether a member of the anti-affinity `group` is placed on `host`.
    func hasAntiAffinityMember(_ group: String, on host: Int) -> Bool { antiAffinityHosts[group]?[host] != nil }

    /// Places `request` on `host`, or throws without changing anything.
    public mutating func commit(_ request: PreparedRequest, on host: Int) throws(PlacementError) {
        guard host >= 0, host < hosts.count else { throw .unknownHost(host) }
        let r = request.request
        guard placements[r.id] == nil else { throw .duplicateRequest(r.id) }
        if let group = r.affinityGroup, let pinned = affinityHosts[group], pinned.host != host {
            throw .affinityConflict(group: group, host: pinned.host)
        }
        if let group = r.antiAffinityGroup, antiAffinityHosts[group]?[host] != nil {
            throw .antiAffinityConflict(group: group, host: host)
        }
        let admission: Admission
        do { admission = try hosts[host].admit(r.demand) } catch { throw .doesNotFit(error) }
        placements[r.id] = (host, admission, r)
        if let group = r.affinityGroup { affinityHosts[group] = (host, (affinityHosts[group]?.members ?? 0) + 1) }
        if let group = r.antiAffinityGroup { antiAffinityHosts[group, default: [:]][host, default: 0] += 1 }
        requestsPerHost[host] += 1
        refreshAvailable(host)
    }

    /// Removes a placed request, returning its resources to its host.
    public mutating func remove(_ id: String) throws(PlacementError) {
        guard let p = placements.removeValue(forKey: id) else { throw .unknownRequest(id) }
        do { try hosts[p.host].release(p.admission) } catch { throw .doesNotFit(error) }
        if let group = p.request.affinityGroup, let pinned = affinityHosts[group] {
            affinityHosts[group] = pinned.members > 1 ? (pinned.host, pinned.members - 1) : nil
        }
        if let group = p.request.antiAffinityGroup {
            let count = antiAffinityHosts[group]?[p.host] ?? 0
            antiAffinityHosts[group]?[p.host] = count > 1 ? count - 1 : nil
        }
        requestsPerHost[p.host] -= 1
        refreshAvailable(p.host)
    }

    private mutating func refreshAvailable(_ host: Int) {
        let d = dimensions.count
        for (j, kind) in dimensions.enumerated() { available[host * d + j] = hosts[host].available(kind) }
    }

    /// Places a batch with `strategy`. Request ids must be unique and not yet placed.
    ///
    /// The result gives every request left unplaced an ``UnplacedReason``, read from the
    /// cluster after the strategy ran. A built-in strategy leaves every member of an
    /// affinity group that fits on no single host unplaced, each with
    /// ``UnplacedReason/affinityGroupDoesNotFit(group:)``.
    public mutating func place(
        _ requests: [PlacementRequest], using strategy: some PlacementStrategy
    ) throws(PlacementError) -> PlacementResult {
        var seen = Set<String>()
        for r in requests where placements[r.id] != nil || !seen.insert(r.id).inserted {
            throw .duplicateRequest(r.id)
        }
        let prepared = requests.enumerated().map { prepare($1, index: $0) }
        strategy.place(prepared, in: &self)
        var assignments: [String: Int] = [:]
        var unplaced: [String] = []
        var reasons: [String: UnplacedReason] = [:]
        for r in prepared {
            let id = r.request.id
            if let h = host(of: id) {
                assignments[id] = h
            } else {
                unplaced.append(id)
                reasons[id] = unplacedReason(for: r)
            }
        }
        return PlacementResult(
            assignments: assignments, unplaced: unplaced, unplacedReasons: reasons,
            hostsUsed: hostsUsed)
    }
}
