import HostPlacement

// README snippet: HostPlacement
func readmeSnippetHostPlacement() throws {
    let host = try HostResources(capacity: [.vcpus: 64, .memory: 256 << 30], overcommit: [.vcpus: 4])
    var cluster = Cluster(hosts: [host])
    let request = PlacementRequest(id: "vm1", demand: [.vcpus: 8, .memory: 16 << 30])
    let result = try cluster.place([request], using: VectorGreedy.dotProduct)
    print(result.assignments)  // ["vm1": 0]
}
