import HostPlacement
import ResourceAllocator
import Testing

/// The README's example, kept compiling and checked.
@Test func readmeExample() throws {
    var layout = try X86_64Layout(memorySize: 8 << 30)
    let bar = try layout.mmio32.allocate(size: 1 << 20, alignment: 1 << 20)
    let gsi = try layout.msiGSIs.allocate()

    var cluster = Cluster(hosts: [
        try HostResources(
            capacity: [.vcpus: 64, .memory: 256 << 30],
            overcommit: [.vcpus: 4])
    ])
    let result = try cluster.place(
        [PlacementRequest(id: "vm1", demand: [.vcpus: 8, .memory: 16 << 30])],
        using: VectorGreedy.dotProduct)
    #expect(bar == AddressRange(start: 0xC000_0000, size: 1 << 20))
    #expect(gsi == 24)
    #expect(result.assignments == ["vm1": 0])
}
