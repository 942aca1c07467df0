import Testing

@testable import Scheduling
@testable import VCPUScheduler

/// A mixed workload: CPU-bound and bursty vCPUs of two VMs, late arrivals, every parameter set.
func mixedWorkload() throws -> [SimulatedVCPU] {
    let cap = try BandwidthCap(quota: 4 * ms, period: 10 * ms)
    var workload: [SimulatedVCPU] = []
    for i in 0..<8 {
        let parameters = SchedulingParameters(
            weight: .nice(i % 4 - 2), priority: i % 3, cap: i == 5 ? cap : nil,
            reservation: try RealTimeReservation(budget: UInt64(1 + i % 3) * ms, period: 20 * ms))
        let pattern: WorkloadPattern =
            i % 2 == 0
            ? .cpuBound
            : .bursty(burst: 100_000...3 * ms, exitHandling: 0...200_000, ioWait: 50_000...4 * ms)
        workload.append(
            SimulatedVCPU(
                VCPUID(vm: VMID(UInt32(i % 2)), index: UInt32(i / 2)), parameters: parameters,
                arrival: UInt64(i) * 700_000, pattern: pattern))
    }
    return workload
}

/// Every policy, freshly made.
func allPolicies() throws -> [any SchedulingPolicy] {
    [
        try RoundRobinPolicy(timeSlice: 2 * ms),
        try PriorityAgingPolicy(timeSlice: 2 * ms, agingInterval: 1 * ms),
        try WeightedFairPolicy(slice: 1 * ms),
        BandwidthCapped(try WeightedFairPolicy(slice: 1 * ms)),
        EarliestDeadlinePolicy(),
    ]
}

func simulate(_ policy: any SchedulingPolicy, seed: UInt64, cpus: Int = 2) throws -> SchedulingReport {
    try Simulator(cpus: cpus, duration: 300 * ms, seed: seed, recordsTrace: true).run(policy, workload: mixedWorkload())
}

@Suite("Determinism and accounting")
struct DeterminismTests {
    @Test("same policy, workload and seed ⇒ the same schedule, byte for byte")
    func sameInputSameSchedule() throws {
        for policy in try allPolicies() {
            let first = try simulate(policy, seed: 42)
            let second = try simulate(policy, seed: 42)
            #expect(!first.trace.isEmpty, "\(policy.name)")
            #expect(Array(first.traceText.utf8) == Array(second.traceText.utf8), "\(policy.name)")
            #expect(first.renderTable() == second.renderTable(), "\(policy.name)")
            #expect(first.latencies == second.latencies)
        }
    }

    @Test("a different seed gives a different schedule")
    func seedMatters() throws {
        let policy = try WeightedFairPolicy(slice: 1 * ms)
        #expect(try simulate(policy, seed: 1).traceText != simulate(policy, seed: 2).traceText)
    }

    @Test("the trace and the accounting agree, and no CPU runs two vCPUs at once", arguments: [1, 2, 3])
    func traceConsistent(cpus: Int) throws {
        for policy in try allPolicies() {
            let report = try simulate(policy, seed: 7, cpus: cpus)
            var perCPU: [Int: Nanoseconds] = [:]
            for record in report.trace {
                #expect(record.start >= perCPU[record.cpu, default: 0], "\(policy.name) overlaps on cpu\(record.cpu)")
                perCPU[record.cpu] = record.end
            }
            for row in report.vcpus {
                let slices = report.trace.filter { $0.vcpu == row.id }
                #expect(UInt64(slices.count) == row.accounting.slices)
                #expect(slices.reduce(0) { $0 + $1.end - $1.start } == row.accounting.runTime)
                #expect(slices.reduce(0) { $0 + $1.exitHandling } == row.accounting.ioTime)
                let a = row.accounting
                #expect(a.runTime + a.waitTime + a.blockedTime == report.duration, "\(policy.name) \(row.id)")
            }
            let busy = report.vcpus.reduce(0) { $0 + $1.accounting.runTime }
            #expect(busy <= UInt64(cpus) * report.duration)
            #expect(report.vms.map(\.vm) == [VMID(0), VMID(1)])
            #expect(report.vms.reduce(0) { $0 + $1.accounting.runTime } == busy)
        }
    }

    @Test("exit handling counts as T_io and I/O waits as blocked time")
    func ioAccounting() throws {
        let vcpu = SimulatedVCPU(
            VCPUID(0), pattern: .phases([.guest(2 * ms), .exitHandling(1 * ms), .blocked(2 * ms)], repeating: true))
        let report = try Simulator(cpus: 1, duration: 100 * ms).run(
            RoundRobinPolicy(timeSlice: 10 * ms), workload: [vcpu])
        let a = try #require(report.row(VCPUID(0))).accounting
        #expect(a.cpuTime == 40 * ms)
        #expect(a.ioTime == 20 * ms)
        #expect(a.blockedTime == 40 * ms)
        #expect(a.waitTime == 0)
        #expect(a.slices == 20 && a.preemptions == 0 && a.wakeups == 20)
    }

    @Test("a vCPU whose pattern ends halts for good; a late arrival waits blocked until it arrives")
    func haltAndArrival() throws {
        let finite = SimulatedVCPU(VCPUID(0), pattern: .phases([.guest(5 * ms)], repeating: false))
        let late = SimulatedVCPU(VCPUID(1), arrival: 30 * ms)
        let report = try Simulator(cpus: 1, duration: 50 * ms).run(
            RoundRobinPolicy(timeSlice: 1 * ms), workload: [finite, late])
        #expect(report.vcpus[0].accounting.cpuTime == 5 * ms)
        #expect(report.vcpus[1].accounting.cpuTime == 20 * ms)
        #expect(report.vcpus[1].accounting.blockedTime == 30 * ms)
    }

    @Test("latency percentiles: a woken vCPU behind two CPU-bound ones under round robin")
    func latencyPercentiles() throws {
        let workload = [cpuBound(0), cpuBound(1), cpuBound(2)]
        let report = try Simulator(cpus: 1, duration: 30 * ms).run(
            RoundRobinPolicy(timeSlice: 1 * ms), workload: workload)
        // Everyone waits exactly two slices between runs, except the first runs of vCPUs 1, 2.
        let p = report.latencies.percentiles([50, 99])
        #expect(p == [2 * ms, 2 * ms])
        #expect(report.latencies.samples.prefix(3) == [0, 1 * ms, 2 * ms])
    }
}
