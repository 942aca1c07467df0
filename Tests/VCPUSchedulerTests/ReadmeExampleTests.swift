import Testing
import VCPUScheduler

@Suite("README example")
struct ReadmeExampleTests {
    @Test("the README's VCPUScheduler snippet runs and says what its comment says")
    func readmeSnippet() throws {
        let ms: UInt64 = 1_000_000
        let workload = [1, 2, 4].enumerated().map { i, weight in
            SimulatedVCPU(VCPUID(UInt32(i)), parameters: SchedulingParameters(weight: SchedulingWeight(UInt32(weight))))
        }
        let simulator = try Simulator(cpus: 1, duration: 7_000 * ms)
        let report = try simulator.run(WeightedFairPolicy(slice: 1 * ms), workload: workload)
        #expect(report.renderTable().contains("Jain 1.00000"))
        #expect(report.vcpus.map(\.accounting.cpuTime) == [1_000 * ms, 2_000 * ms, 4_000 * ms])

        let capped = BandwidthCapped(
            try RoundRobinPolicy(timeSlice: 10 * ms),
            vmCaps: [VMID(0): try BandwidthCap(quota: 50 * ms, period: 100 * ms)])
        let cappedReport = try simulator.run(capped, workload: workload)
        #expect(cappedReport.vms.map(\.accounting.runTime) == [3_500 * ms])
    }
}
