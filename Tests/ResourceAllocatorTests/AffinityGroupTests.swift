import Testing

@testable import HostPlacement
@testable import ResourceAllocator

private let gib: UInt64 = 1 << 30

private func request(
    _ id: String, vcpus: UInt64, memory: UInt64 = 0, group: String? = nil,
    anti: String? = nil
) -> PlacementRequest {
    PlacementRequest(
        id: id, demand: [.vcpus: vcpus, .memory: memory * gib], affinityGroup: group,
        antiAffinityGroup: anti)
}

private func cluster(_ vcpus: [UInt64], memory: UInt64 = 64) throws -> Cluster {
    Cluster(hosts: try vcpus.map { try HostResources(capacity: [.vcpus: $0, .memory: memory * gib]) })
}

/// Affinity groups are placed as one item: on a single host that holds all of them, or not at all.
@Suite struct AffinityGroupTests {
    @Test(arguments: 0..<strategies.count)
    func groupGoesWholeToTheHostThatHoldsIt(strategyIndex: Int) throws {
        let strategy = strategies[strategyIndex]
        // Host 0 takes one member but not two; host 1 takes the whole group.
        let empty = try cluster([4, 16])
        let a = request("a", vcpus: 3, memory: 4, group: "g")
        let b = request("b", vcpus: 3, memory: 4, group: "g")
        if strategyIndex < builtInStrategies.count {
            // Placed on its own, the first member lands on host 0, which cannot hold the rest.
            var probe = empty
            #expect(try probe.place([a], using: strategy).assignments == ["a": 0], "\(strategy.name)")
        }
        var cluster = empty
        let result = try cluster.place([a, request("c", vcpus: 1, memory: 1), b], using: strategy)
        #expect(result.unplaced.isEmpty && result.unplacedReasons.isEmpty, "\(strategy.name)")
        #expect(result.assignments["a"] == 1 && result.assignments["b"] == 1, "\(strategy.name)")
        #expect(cluster.affinityHost(of: "g") == 1)
        #expect(cluster.hosts[1].used[.vcpus] + cluster.hosts[0].used[.vcpus] == 7)
    }

    @Test(arguments: 0..<strategies.count)
    func groupThatFitsNowhereLeavesEveryMemberOutAndConsumesNothing(strategyIndex: Int) throws {
        let strategy = strategies[strategyIndex]
        var hosts = try [8, 8].map { try HostResources(capacity: [.vcpus: $0, .memory: 64 * gib]) }
        _ = try hosts[1].admit([.vcpus: 1, .memory: gib])
        var cluster = Cluster(hosts: hosts)
        let before = cluster
        let batch = [
            request("big1", vcpus: 5, group: "big"), request("big2", vcpus: 5, group: "big"),
            // Small enough for one host, but two members may not share a host.
            request("rival1", vcpus: 1, group: "rivals", anti: "x"),
            request("rival2", vcpus: 1, group: "rivals", anti: "x"),
            request("gpu", vcpus: 1, group: "gpus").withDemand("gpus", 1), request("cpu", vcpus: 1, group: "gpus"),
        ]
        let result = try cluster.place(batch, using: strategy)
        #expect(result.unplaced == batch.map(\.id), "\(strategy.name)")
        #expect(
            result.unplacedReasons == [
                "big1": .affinityGroupDoesNotFit(group: "big"), "big2": .affinityGroupDoesNotFit(group: "big"),
                "rival1": .affinityGroupDoesNotFit(group: "rivals"),
                "rival2": .affinityGroupDoesNotFit(group: "rivals"),
                "gpu": .missingResource, "cpu": .affinityGroupDoesNotFit(group: "gpus"),
            ])
        #expect(cluster.hosts == before.hosts && cluster.available == before.available)
        #expect(cluster.hostsUsed == 0 && cluster.affinityHost(of: "big") == nil)
    }

    @Test(arguments: 0..<strategies.count)
    func membersOfAPinnedGroupGoToItsHostOrStayOut(strategyIndex: Int) throws {
        let strategy = strategies[strategyIndex]
        var cluster = try cluster([8, 8])
        _ = try cluster.place([request("p0", vcpus: 5, group: "g")], using: FirstFit())
        // Host 1 could hold p1 and p2 together, but the group is pinned to host 0 (3 vCPUs left).
        let batch = [
            request("p1", vcpus: 4, group: "g"), request("p2", vcpus: 2, group: "g"),
            request("huge", vcpus: 9),
        ]
        let result = try cluster.place(batch, using: strategy)
        #expect(result.assignments == ["p2": 0], "\(strategy.name)")
        #expect(result.unplacedReasons == ["p1": .affinityHostUnavailable(group: "g", host: 0), "huge": .noHostFits])
    }

    @Test func unitsCombineUnpinnedGroupsInBatchOrder() throws {
        var cluster = try cluster([8, 8])
        _ = try cluster.place([request("old", vcpus: 1, group: "pinned")], using: FirstFit())
        let batch = [
            request("a1", vcpus: 1, memory: 2, group: "a", anti: "x"), request("solo", vcpus: 2),
            request("p", vcpus: 1, group: "pinned"), request("a2", vcpus: 3, memory: 1, group: "a", anti: "y"),
            request("q", vcpus: 1, group: "pinned"),
        ]
        let units = cluster.placementUnits(for: batch.enumerated().map { cluster.prepare($1, index: $0) })
        #expect(units.map { $0.members.map(\.request.id) } == [["a1", "a2"], ["solo"], ["p"], ["q"]])
        #expect(units.map(\.index) == [0, 1, 2, 4])
        #expect(units.map(\.affinityGroup) == ["a", nil, nil, nil])
        let group = units[0].item
        #expect(group.request.id == "a" && group.request.demand == [.vcpus: 4, .memory: 3 * gib])
        #expect(cluster.dimensions == [.memory, .vcpus] && group.demand == [3 * gib, 4] && group.isPlaceable)
        #expect(units[0].antiAffinityGroups == ["x", "y"])
        #expect(
            units[2].item.request.id == "p" && !cluster.canPlace(units[2], on: 1) && cluster.canPlace(units[2], on: 0))
    }

    @Test func committingAUnitIsAllOrNothing() throws {
        var cluster = try cluster([8])
        let before = cluster.hosts.map(\.used)
        let rivals = [request("r1", vcpus: 1, group: "g", anti: "x"), request("r2", vcpus: 1, group: "g", anti: "x")]
        let tooBig = [request("b1", vcpus: 5, group: "h"), request("b2", vcpus: 5, group: "h")]
        for (batch, error) in [
            (rivals, PlacementError.antiAffinityConflict(group: "x", host: 0)),
            (tooBig, .doesNotFit(.insufficient(resource: .vcpus, requested: 5, available: 3))),
        ] {
            let unit = try #require(cluster.placementUnits(for: batch.map { cluster.prepare($0) }).first)
            #expect(!unit.item.isPlaceable || !cluster.canPlace(unit, on: 0))
            #expect(throws: error) { try cluster.commit(unit, on: 0) }
            #expect(batch.allSatisfy { cluster.host(of: $0.id) == nil })
            #expect(cluster.hosts.map(\.used) == before && cluster.hostsUsed == 0)
            #expect(cluster.affinityHost(of: batch[0].affinityGroup!) == nil)
        }
    }
}

extension PlacementRequest {
    fileprivate func withDemand(_ kind: ResourceKind, _ amount: UInt64) -> PlacementRequest {
        var copy = self
        copy.demand[kind] = amount
        return copy
    }
}
