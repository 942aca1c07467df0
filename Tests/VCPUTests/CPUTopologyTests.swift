import KVM
import Testing
import VCPU

/// A CPU topology the CPUID leaves cannot describe is refused, naming it.
@Suite struct CPUTopologyTests {
    @Test func invalidTopologiesAreRefused() throws {
        let supported: [CPUIDEntry] = []
        for (threads, cores) in [(0, 1), (1, 0), (16, 16)] {
            #expect(throws: X86SetupError.invalidTopology("\(threads) threads × \(cores) cores")) {
                try CPUIDBuilder.entries(
                    from: supported, apicID: 0, topology: CPUTopology(threadsPerCore: threads, coresPerPackage: cores))
            }
        }
        // 255 logical processors is the most a package can have.
        _ = try CPUIDBuilder.entries(
            from: supported, apicID: 0, topology: CPUTopology(threadsPerCore: 1, coresPerPackage: 255))
    }
}
