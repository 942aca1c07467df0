import Scheduling

// README snippet: Scheduling
func readmeSnippetScheduling() throws {
    let ms: UInt64 = 1_000_000
    let workload = [1, 2, 4].enumerated().map { i, weight in
        SimulatedVCPU(VCPUID(UInt32(i)), parameters: SchedulingParameters(weight: SchedulingWeight(UInt32(weight))))
    }
    let simulator = try Simulator(cpus: 1, duration: 7_000 * ms)
    let report = try simulator.run(WeightedFairPolicy(slice: 1 * ms), workload: workload)
    print(report.renderTable())  // 1 s, 2 s and 4 s of CPU; Jain 1.00000

    // Cap VM 0 at half a CPU, round robin inside the cap:
    let capped = BandwidthCapped(
        try RoundRobinPolicy(timeSlice: 10 * ms),
        vmCaps: [VMID(0): try BandwidthCap(quota: 50 * ms, period: 100 * ms)])
    let cappedReport = try simulator.run(capped, workload: workload)
    print(cappedReport.renderTable())
}
