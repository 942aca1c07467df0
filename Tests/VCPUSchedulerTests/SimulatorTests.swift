import Testing

@testable import Scheduling
@testable import VCPUScheduler

let ms: Nanoseconds = 1_000_000
let second: Nanoseconds = 1_000_000_000

func cpuBound(_ index: UInt32, vm: UInt32 = 0, _ parameters: SchedulingParameters = SchedulingParameters())
    -> SimulatedVCPU
{
    SimulatedVCPU(VCPUID(vm: VMID(vm), index: index), parameters: parameters)
}

/// Whether `vcpu` ran at most `cap.quota` in every period of the trace.
func capRespected(_ trace: [SliceRecord], vcpu: VCPUID, cap: BandwidthCap) -> Bool {
    var used: [Nanoseconds: Nanoseconds] = [:]
    for record in trace where record.vcpu == vcpu {
        var t = record.start
        while t < record.end {
            let period = t / cap.period
            let end = min(record.end, (period + 1) * cap.period)
            used[period, default: 0] += end - t
            t = end
        }
    }
    return !used.isEmpty && used.values.allSatisfy { $0 <= cap.quota }
}

@Suite("Simulator")
struct SimulatorTests {
    @Test("weights 1:2:4 on one CPU get exactly 1/7, 2/7, 4/7")
    func weightedShares() throws {
        let workload = [1, 2, 4].enumerated().map { i, w in
            cpuBound(UInt32(i), SchedulingParameters(weight: SchedulingWeight(UInt32(w))))
        }
        let report = try Simulator(cpus: 1, duration: 7 * second).run(
            WeightedFairPolicy(slice: 1 * ms), workload: workload)
        // 7 s is a whole number of 7-slice rounds: the split is exact to the nanosecond.
        #expect(report.vcpus.map(\.accounting.cpuTime) == [1 * second, 2 * second, 4 * second])
        #expect(report.vcpus.map(\.accounting.slices) == [1000, 2000, 4000])
        for row in report.vcpus {
            #expect(row.accounting.cpuTime + row.accounting.waitTime == 7 * second)
            #expect(abs(row.actualShare - row.entitledShare) < 1e-12)
        }
        #expect(try #require(report.jainIndex) > 0.999_999)
    }

    @Test("nice weights: nice 0 vs nice 5 split 1024:335")
    func niceWeights() throws {
        let workload = [
            cpuBound(0, SchedulingParameters(weight: .nice(0))), cpuBound(1, SchedulingParameters(weight: .nice(5))),
        ]
        // 1359 slices of 1 ms: one full round of the 1024:335 pattern.
        let report = try Simulator(cpus: 1, duration: 1359 * ms).run(
            WeightedFairPolicy(slice: 1 * ms), workload: workload)
        #expect(report.vcpus.map(\.accounting.cpuTime) == [1024 * ms, 335 * ms])
    }

    @Test("weights 1:2:4 on two CPUs: the heaviest is limited to one CPU, the others split the rest 1:2")
    func weightedSharesTwoCPUs() throws {
        let workload = [1, 2, 4].enumerated().map { i, w in
            cpuBound(UInt32(i), SchedulingParameters(weight: SchedulingWeight(UInt32(w))))
        }
        let report = try Simulator(cpus: 2, duration: 6 * second).run(
            WeightedFairPolicy(slice: 1 * ms), workload: workload)
        print(report.renderTable())
        let entitled = report.vcpus.map(\.entitledShare)
        #expect(abs(entitled[0] - 1.0 / 3) < 1e-9 && abs(entitled[1] - 2.0 / 3) < 1e-9 && entitled[2] == 1)
        // The simulator is deterministic: exactly the entitlement, 1/3, 2/3 and all of one CPU
        // of 6 s, in whole 1 ms slices.
        #expect(report.vcpus.map(\.accounting.cpuTime) == [2 * second, 4 * second, 6 * second])
        #expect(report.vcpus.map(\.accounting.slices) == [2000, 4000, 6000])
    }

    @Test("a 25 % cap gets exactly 25 % of the CPU; the uncapped vCPUs share the rest")
    func capRoundRobin() throws {
        let cap = try BandwidthCap(quota: 25 * ms, period: 100 * ms)
        let workload = [cpuBound(0, SchedulingParameters(cap: cap)), cpuBound(1), cpuBound(2)]
        let report = try Simulator(cpus: 1, duration: 1 * second, recordsTrace: true).run(
            BandwidthCapped(RoundRobinPolicy(timeSlice: 10 * ms)), workload: workload)
        print(report.renderTable())
        #expect(report.vcpus[0].accounting.cpuTime == 250 * ms)
        // The other two split the rest; round robin is fair to within one slice.
        let (b, c) = (report.vcpus[1].accounting.cpuTime, report.vcpus[2].accounting.cpuTime)
        #expect(b + c == 750 * ms)
        #expect(max(b, c) - min(b, c) <= 10 * ms)
        #expect(abs(report.vcpus[0].entitledShare - 0.25) < 1e-12)
        #expect(capRespected(report.trace, vcpu: VCPUID(0), cap: cap))
    }

    @Test("caps compose with weights: a heavy vCPU capped at 20 % gets 20 %, the rest split 1:3")
    func capWeighted() throws {
        let cap = try BandwidthCap(quota: 2 * ms, period: 10 * ms)
        let workload = [
            cpuBound(0, SchedulingParameters(weight: SchedulingWeight(8), cap: cap)),
            cpuBound(1, SchedulingParameters(weight: SchedulingWeight(1))),
            cpuBound(2, SchedulingParameters(weight: SchedulingWeight(3))),
        ]
        let report = try Simulator(cpus: 1, duration: 2 * second).run(
            BandwidthCapped(WeightedFairPolicy(slice: 1 * ms)), workload: workload)
        print(report.renderTable())
        #expect(report.vcpus[0].accounting.cpuTime == 400 * ms)
        #expect(report.vcpus[1].accounting.cpuTime + report.vcpus[2].accounting.cpuTime == 1600 * ms)
        let ratio = Double(report.vcpus[2].accounting.cpuTime) / Double(report.vcpus[1].accounting.cpuTime)
        #expect(abs(ratio - 3) < 0.01, "ratio \(ratio)")
        #expect(try #require(report.jainIndex) > 0.9999)
    }

    @Test("a capped vCPU that blocks and wakes while throttled waits for its next period")
    func capAcrossBlocking() throws {
        let cap = try BandwidthCap(quota: 3 * ms, period: 10 * ms)
        // Wants 4 ms of every 5 ms; the cap allows 3 ms per 10 ms.
        let bursty = SimulatedVCPU(
            VCPUID(0), parameters: SchedulingParameters(cap: cap),
            pattern: .phases([.guest(4 * ms), .blocked(1 * ms)], repeating: true))
        let report = try Simulator(cpus: 1, duration: 1 * second, recordsTrace: true).run(
            BandwidthCapped(WeightedFairPolicy(slice: 1 * ms)), workload: [bursty, cpuBound(1)])
        print(report.renderTable())
        #expect(capRespected(report.trace, vcpu: VCPUID(0), cap: cap))
        // Its cap (30 %) is below its fair share (50 %), so it gets the whole cap.
        #expect(report.vcpus[0].accounting.cpuTime == 300 * ms)
        #expect(report.vcpus[1].accounting.cpuTime == 700 * ms)
        #expect(report.vcpus[0].accounting.wakeups > 0)
    }

    @Test("strict priority with aging never starves the low-priority vCPU")
    func agingPreventsStarvation() throws {
        let slice = 1 * ms, aging = 2 * ms
        let workload = [
            cpuBound(0, SchedulingParameters(priority: 10)),
            cpuBound(1, SchedulingParameters(priority: 10)),
            cpuBound(2, SchedulingParameters(priority: 0)),
        ]
        let report = try Simulator(cpus: 1, duration: 1 * second, recordsTrace: true).run(
            PriorityAgingPolicy(timeSlice: slice, agingInterval: aging), workload: workload)
        print(report.renderTable())
        let low = report.vcpus[2].accounting
        #expect(low.cpuTime > 0)
        // Bound: Δpriority × aging interval, plus one slice for each other vCPU.
        let bound = 10 * aging + 2 * slice
        var previousEnd: Nanoseconds = 0
        for record in report.trace where record.vcpu == VCPUID(2) {
            #expect(record.start - previousEnd <= bound)
            previousEnd = record.end
        }
        #expect(report.duration - previousEnd <= bound)
        // The high-priority vCPUs still get most of the CPU.
        #expect(report.vcpus[0].accounting.cpuTime > 4 * low.cpuTime)
    }

    @Test("without aging (an interval longer than the run) the low-priority vCPU starves")
    func noAgingStarves() throws {
        let workload = [
            cpuBound(0, SchedulingParameters(priority: 10)), cpuBound(1, SchedulingParameters(priority: 0)),
        ]
        let policy = try PriorityAgingPolicy(
            timeSlice: 1 * ms, agingInterval: PriorityAgingPolicy.agingIntervalRange.upperBound)
        let report = try Simulator(cpus: 1, duration: 1 * second).run(policy, workload: workload)
        #expect(report.vcpus[1].accounting.cpuTime == 0)
        #expect(report.vcpus[0].accounting.cpuTime == 1 * second)
    }

    @Test("a woken high-priority vCPU preempts a running low-priority one")
    func priorityPreemptsOnWake() throws {
        let waker = SimulatedVCPU(
            VCPUID(0), parameters: SchedulingParameters(priority: 5),
            pattern: .phases([.blocked(3 * ms), .guest(1 * ms)], repeating: true))
        let report = try Simulator(cpus: 1, duration: 100 * ms).run(
            PriorityAgingPolicy(timeSlice: 10 * ms, agingInterval: 10 * ms), workload: [waker, cpuBound(1)])
        print(report.renderTable())
        // Every wake-up runs at once: no wait at all for vCPU 0.
        #expect(report.vcpus[0].accounting.waitTime == 0)
        #expect(report.vcpus[0].accounting.cpuTime == 25 * ms)
    }

    @Test(
        "RT: budgets met when utilisation ≤ 1",
        arguments: [
            [(2, 10), (3, 15), (5, 20)],  // U = 0.65
            [(5, 10), (10, 20)],  // U = 1
            [(4, 10), (3, 12), (7, 20)],  // U = 0.4 + 0.25 + 0.35 = 1
        ] as [[(Int, Int)]])
    func realTimeMet(reservations: [(Int, Int)]) throws {
        let workload = try reservations.enumerated().map { i, r in
            cpuBound(
                UInt32(i),
                SchedulingParameters(
                    reservation: try RealTimeReservation(budget: UInt64(r.0) * ms, period: UInt64(r.1) * ms)))
        }
        let duration = 1200 * ms  // a multiple of every period
        let report = try Simulator(cpus: 1, duration: duration).run(EarliestDeadlinePolicy(), workload: workload)
        print(report.renderTable())
        #expect(report.totalDeadlineMisses == 0)
        for (row, r) in zip(report.vcpus, reservations) {
            #expect(row.accounting.cpuTime == duration / (UInt64(r.1) * ms) * UInt64(r.0) * ms, "\(row.id)")
        }
    }

    @Test("RT: utilisation > 1 is reported as deadline misses")
    func realTimeOverloaded() throws {
        let workload = try [(6, 10), (5, 10)].enumerated().map { i, r in
            cpuBound(
                UInt32(i),
                SchedulingParameters(
                    reservation: try RealTimeReservation(budget: UInt64(r.0) * ms, period: UInt64(r.1) * ms)))
        }
        let report = try Simulator(cpus: 1, duration: 1 * second).run(EarliestDeadlinePolicy(), workload: workload)
        print(report.renderTable())
        // 100 periods, 1 ms short in each: every period ends with someone's budget unserved.
        #expect(report.totalDeadlineMisses == 100)
        #expect(report.vcpus.map(\.accounting.cpuTime).reduce(0, +) == 1 * second)
    }

    @Test("RT: a vCPU without a reservation is rejected")
    func realTimeNeedsReservation() throws {
        var policy = EarliestDeadlinePolicy()
        #expect(throws: SchedulerError.self) {
            try policy.add(VCPUID(0), parameters: SchedulingParameters(), at: 0)
        }
    }
}

@Suite("Simulator: latency")
struct LatencyTests {
    @Test("weighted fair lets a woken interactive vCPU preempt; round robin makes it queue")
    func interactiveWakeLatency() throws {
        let interactive = SimulatedVCPU(
            VCPUID(9), pattern: .phases([.guest(200_000), .blocked(5 * ms)], repeating: true))
        let workload = [cpuBound(0), cpuBound(1), cpuBound(2), interactive]
        let simulator = try Simulator(cpus: 1, duration: 1 * second)
        let fair = try simulator.run(WeightedFairPolicy(slice: 4 * ms), workload: workload)
        let roundRobin = try simulator.run(RoundRobinPolicy(timeSlice: 4 * ms), workload: workload)
        let fairWait = try #require(fair.row(VCPUID(9))).accounting
        let rrWait = try #require(roundRobin.row(VCPUID(9))).accounting
        print(fair.renderTable(), roundRobin.renderTable())
        #expect(fairWait.waitTime * 10 < rrWait.waitTime)
        #expect(fairWait.cpuTime > rrWait.cpuTime)
    }
}

@Suite("Simulator: arrivals")
struct ArrivalTests {
    @Test("a late arrival under weighted fair gets its share from then on, not a catch-up burst")
    func lateArrival() throws {
        let workload = [cpuBound(0), cpuBound(1), SimulatedVCPU(VCPUID(2), arrival: 1 * second)]
        let report = try Simulator(cpus: 1, duration: 1300 * ms, recordsTrace: true).run(
            WeightedFairPolicy(slice: 1 * ms), workload: workload)
        // After the arrival, three equal vCPUs: 100 ms each over 300 ms, to within a slice.
        for id in [VCPUID(0), VCPUID(1), VCPUID(2)] {
            let after = report.trace.filter { $0.vcpu == id && $0.start >= 1 * second }.reduce(0) {
                $0 + $1.end - $1.start
            }
            #expect(after >= 99 * ms && after <= 101 * ms, "\(id): \(after)")
        }
        // And no run of more than two consecutive slices for the newcomer.
        var streak = 0, longest = 0
        for record in report.trace where record.start >= 1 * second {
            streak = record.vcpu == VCPUID(2) ? streak + 1 : 0
            longest = max(longest, streak)
        }
        #expect(longest <= 2)
    }
}
