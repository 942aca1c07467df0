import BenchmarkSupport
// sched-bench: cost of one scheduling decision (pick-next + account) per policy at 10, 100
// and 1000 runnable vCPUs, side by side with a naive O(n) linear-scan fair-share policy.
//
//   swift run -c release sched-bench [--json] [--rounds N]
import HostSupport
import SchedulerGuests
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

let options = BenchmarkOptions.parseOrExit()
let rounds = max(1, options.rounds ?? 5)
let sizes = [10, 100, 1000]
let us: Nanoseconds = 1_000

/// Parameters for vCPU `i` of `n`, meaningful to every policy: weights spread over nice
/// -5...4, priorities 0...9, every other vCPU capped at 50 %, RT reservations adding up to
/// exactly one CPU (so the CPU never idles and every decision picks someone). The vCPUs are
/// spread over four VMs.
func parameters(_ i: Int, of n: Int) throws -> SchedulingParameters {
    SchedulingParameters(
        weight: .nice(i % 10 - 5), priority: i % 10,
        cap: i % 2 == 0 ? try BandwidthCap(quota: 500 * us, period: 1000 * us) : nil,
        reservation: try RealTimeReservation(budget: 100 * us, period: UInt64(n) * 100 * us))
}

/// Nanoseconds per decision: `decisions` rounds of pick-next, then account of the whole
/// slice as preempted, with `n` always-runnable vCPUs.
@inline(never)
func measure<P: SchedulingPolicy>(_ prototype: P, n: Int, decisions: Int) throws -> Double {
    var policy = prototype
    for i in 0..<n {
        let id = VCPUID(vm: VMID(UInt32(i % 4)), index: UInt32(i))
        try policy.add(id, parameters: parameters(i, of: n), at: 0)
        try policy.wake(id, at: 0)
    }
    var now: Nanoseconds = 0
    // Warm up: one decision per vCPU.
    for _ in 0..<n {
        guard let d = policy.pickNext(at: now) else { break }
        now += d.slice
        try policy.account(d.vcpu, ran: d.slice, at: now, outcome: .preempted)
    }
    var made = 0
    let start = monotonicNanoseconds()
    while made < decisions {
        guard let d = policy.pickNext(at: now) else {
            guard let next = policy.nextEventTime(after: now) else { break }
            now = next
            continue
        }
        now += d.slice
        try policy.account(d.vcpu, ran: d.slice, at: now, outcome: .preempted)
        made += 1
    }
    let elapsed = monotonicNanoseconds() - start
    return Double(elapsed) / Double(max(1, made))
}

func summary<P: SchedulingPolicy>(_ policy: P, n: Int) throws -> Summary {
    let decisions = n >= 1000 ? 100_000 : 200_000
    return Summary(try (0..<rounds).map { _ in try measure(policy, n: n, decisions: decisions) })
}

/// VMs 0 and 1 (of the four the vCPUs are spread over) capped at one CPU each.
let vmCaps = try [
    VMID(0): BandwidthCap(quota: 1000 * us, period: 1000 * us),
    VMID(1): BandwidthCap(quota: 1000 * us, period: 1000 * us),
]

var report = BenchmarkReport(
    title: "sched-bench: ns per decision (pick-next + account), median of \(rounds) rounds",
    columns: ["policy", "vCPUs", "median ns", "min ns", "max ns", "linear / this"])

do {
    for n in sizes {
        let baseline = try summary(LinearScanFairPolicy(slice: 1000 * us), n: n)
        var rows: [(String, Summary)] = [
            (
                try RoundRobinPolicy(timeSlice: 1000 * us).name,
                try summary(RoundRobinPolicy(timeSlice: 1000 * us), n: n)
            ),
            (
                try PriorityAgingPolicy(timeSlice: 1000 * us, agingInterval: 1000 * us).name,
                try summary(PriorityAgingPolicy(timeSlice: 1000 * us, agingInterval: 1000 * us), n: n)
            ),
            (try WeightedFairPolicy(slice: 1000 * us).name, try summary(WeightedFairPolicy(slice: 1000 * us), n: n)),
            (
                BandwidthCapped(try WeightedFairPolicy(slice: 1000 * us)).name,
                try summary(BandwidthCapped(WeightedFairPolicy(slice: 1000 * us)), n: n)
            ),
            (
                BandwidthCapped(try WeightedFairPolicy(slice: 1000 * us)).name + " + VM caps",
                try summary(BandwidthCapped(WeightedFairPolicy(slice: 1000 * us), vmCaps: vmCaps), n: n)
            ),
            (EarliestDeadlinePolicy().name, try summary(EarliestDeadlinePolicy(), n: n)),
        ]
        rows.append((LinearScanFairPolicy(slice: 1000 * us).name, baseline))
        for (name, s) in rows {
            report.add([
                .text(name), .number(Double(n), decimals: 0), .number(s.median, decimals: 1),
                .number(s.min, decimals: 1), .number(s.max, decimals: 1),
                .number(baseline.median / s.median, decimals: 2),
            ])
        }
    }
} catch {
    print("sched-bench: \(error)")
    exit(1)
}
report.note("target: <= 1000 ns per decision at 1000 runnable vCPUs")
report.note("baseline: stride scheduling over an array, O(n) scan per pick and per account")
report.print(options)

// MARK: What the policies do (simulated; the figures the real-vCPU runs will be compared with)

var quality = BenchmarkReport(
    title: "sched-bench: schedules in the simulator (virtual time, deterministic)",
    columns: ["scenario", "policy", "Jain", "cap error %", "RT misses", "wait p50 us", "wait p99 us", "wall ms"])

func simulated<P: SchedulingPolicy>(
    _ scenario: String, _ policy: P, cpus: Int, duration: Nanoseconds, workload: [SimulatedVCPU],
    cap: (vm: VMID, cpus: Double)? = nil
) throws -> [ReportValue] {
    let start = monotonicNanoseconds()
    let result = try Simulator(cpus: cpus, duration: duration, seed: 1).run(policy, workload: workload)
    let wall = monotonicNanoseconds() - start
    let capError: ReportValue =
        cap.map { cap in
            let used = result.vms.first { $0.vm == cap.vm }.map { Double($0.accounting.runTime) } ?? 0
            return .number((used / Double(duration) / cap.cpus - 1) * 100, decimals: 3)
        } ?? .text("-")
    let p = result.latencies.percentiles([50, 99]).map { $0.map { Double($0) / 1000 } ?? 0 }
    return [
        .text(scenario), .text(result.policyName), result.jainIndex.map { .number($0, decimals: 5) } ?? .text("-"),
        capError, .number(Double(result.totalDeadlineMisses), decimals: 0), .number(p[0], decimals: 1),
        .number(p[1], decimals: 1), .number(Double(wall) / 1e6, decimals: 1),
    ]
}

do {
    let ms: Nanoseconds = 1_000_000
    let weighted = [1, 2, 4].enumerated().map { i, w in
        SimulatedVCPU(VCPUID(UInt32(i)), parameters: SchedulingParameters(weight: SchedulingWeight(UInt32(w))))
    }
    quality.add(
        try simulated(
            "weights 1:2:4, 1 CPU", WeightedFairPolicy(slice: 1 * ms), cpus: 1, duration: 7_000 * ms, workload: weighted
        ))
    quality.add(
        try simulated(
            "weights 1:2:4, 1 CPU", RoundRobinPolicy(timeSlice: 1 * ms), cpus: 1, duration: 7_000 * ms,
            workload: weighted))

    let capped = try (0..<4).map { i in
        SimulatedVCPU(
            VCPUID(vm: VMID(UInt32(i)), index: 0),
            parameters: SchedulingParameters(cap: i == 0 ? try BandwidthCap(quota: 20 * ms, period: 100 * ms) : nil))
    }
    quality.add(
        try simulated(
            "vCPU cap 20 % of 4 x 25 %, 1 CPU", BandwidthCapped(try WeightedFairPolicy(slice: 3 * ms)), cpus: 1,
            duration: 10_000 * ms, workload: capped, cap: (VMID(0), 0.2)))
    let vmWorkload = (0..<6).map { i in
        SimulatedVCPU(
            VCPUID(vm: VMID(UInt32(i % 2)), index: UInt32(i)),
            pattern: i < 2 ? .cpuBound : .bursty(burst: 100_000...4 * ms, exitHandling: 0...200_000, ioWait: 0...3 * ms)
        )
    }
    quality.add(
        try simulated(
            "VM cap 0.5 CPU, 2 CPUs, bursty",
            BandwidthCapped(
                try WeightedFairPolicy(slice: 1 * ms),
                vmCaps: [VMID(0): try BandwidthCap(quota: 50 * ms, period: 100 * ms)]),
            cpus: 2, duration: 10_000 * ms, workload: vmWorkload, cap: (VMID(0), 0.5)))
    let wide = (0..<4).map { SimulatedVCPU(VCPUID(vm: VMID(0), index: UInt32($0))) }
    quality.add(
        try simulated(
            "VM cap 1.5 CPUs, 4 vCPUs, 2 CPUs",
            BandwidthCapped(
                try RoundRobinPolicy(timeSlice: 2 * ms),
                vmCaps: [VMID(0): try BandwidthCap(quota: 15 * ms, period: 10 * ms)]),
            cpus: 2, duration: 10_000 * ms, workload: wide, cap: (VMID(0), 1.5)))

    for (label, reservations) in [
        ("RT U=0.95, 1 CPU", [(2, 10), (3, 20), (9, 30), (8, 40)]), ("RT U=1.1, 1 CPU", [(6, 10), (10, 20)]),
    ] {
        let rt = try reservations.enumerated().map { i, r in
            SimulatedVCPU(
                VCPUID(UInt32(i)),
                parameters: SchedulingParameters(
                    reservation: try RealTimeReservation(budget: UInt64(r.0) * ms, period: UInt64(r.1) * ms)))
        }
        quality.add(try simulated(label, EarliestDeadlinePolicy(), cpus: 1, duration: 10_000 * ms, workload: rt))
    }

    let mixed = try (0..<16).map { i in
        SimulatedVCPU(
            VCPUID(vm: VMID(UInt32(i % 4)), index: UInt32(i)),
            parameters: SchedulingParameters(
                weight: .nice(i % 5 - 2), priority: i % 3,
                reservation: try RealTimeReservation(budget: 1 * ms, period: 20 * ms)),
            arrival: UInt64(i) * 100_000,
            pattern: i % 4 == 0
                ? .cpuBound : .bursty(burst: 50_000...2 * ms, exitHandling: 0...100_000, ioWait: 100_000...8 * ms))
    }
    let scenario = "16 mixed vCPUs, 4 CPUs, 10 s"
    quality.add(
        try simulated(scenario, RoundRobinPolicy(timeSlice: 3 * ms), cpus: 4, duration: 10_000 * ms, workload: mixed))
    quality.add(
        try simulated(
            scenario, PriorityAgingPolicy(timeSlice: 3 * ms, agingInterval: 2 * ms), cpus: 4, duration: 10_000 * ms,
            workload: mixed))
    quality.add(
        try simulated(scenario, WeightedFairPolicy(slice: 3 * ms), cpus: 4, duration: 10_000 * ms, workload: mixed))
    quality.add(try simulated(scenario, EarliestDeadlinePolicy(), cpus: 4, duration: 10_000 * ms, workload: mixed))
} catch {
    print("sched-bench: \(error)")
    exit(1)
}
quality.note("Jain: actual / entitled shares (weights, caps and demand; equal shares for round robin and priority)")
quality.note("demand: T_run / (T_run + T_blocked); bursty vCPUs that had to wait pull Jain below 1")
quality.note("cap error: the capped VM's CPU time against its cap, in percent (negative = under the cap)")
quality.note("wait: runnable-to-running delay over all vCPUs; wall: real time to simulate the run")
quality.print(options)

// MARK: Real vCPUs (KVM): the same policies driving tiny counting guests through VCPUDispatcher

/// Jain's index of `values[i] / weights[i]` (shares proportional to weights give 1).
func jain(_ values: [Double], weights: [Double]) -> Double {
    FairShare.jainIndex(actual: values, entitled: weights) ?? 0
}

func microseconds(_ samples: LatencySamples, _ ps: [Double]) -> [ReportValue] {
    samples.percentiles(ps).map { $0.map { .number(Double($0) / 1000, decimals: 1) } ?? .text("-") }
}

if !CounterVM.kvmAvailable {
    print("sched-bench: /dev/kvm not available, real-vCPU rows skipped")
    exit(0)
}

var real = BenchmarkReport(
    title: "sched-bench: real vCPUs on 1 worker slot (KVM, guests OUT a counter per loop iteration)",
    columns: ["scenario", "workers", "measure", "real", "simulated", "real / sim"])
var latency = BenchmarkReport(
    title: "sched-bench: preemption on real vCPUs (us): kick = requestPause (immediate_exit + signal)",
    columns: ["workers", "delay", "samples", "p50", "p90", "p99", "p99.9", "max"])

do {
    let ms: Nanoseconds = 1_000_000
    let seconds = Nanoseconds(3_000) * ms
    let weights = [1.0, 2.0, 4.0]
    let weighted = weights.enumerated().map { i, w in
        (id: VCPUID(UInt32(i)), parameters: SchedulingParameters(weight: SchedulingWeight(UInt32(w))))
    }
    let cappedID = VCPUID(vm: VMID(0), index: 0)
    let capWorkload: [(id: VCPUID, parameters: SchedulingParameters)] = [
        (cappedID, SchedulingParameters(cap: try BandwidthCap(quota: 3 * ms, period: 10 * ms))),
        (VCPUID(vm: VMID(1), index: 0), SchedulingParameters()),
    ]
    let policy = try WeightedFairPolicy(slice: 2 * ms)
    let capped = BandwidthCapped(policy)
    let simWeighted = try Simulator(cpus: 1, duration: seconds, seed: 1)
        .run(policy, workload: weighted.map { SimulatedVCPU($0.id, parameters: $0.parameters) })
    let simCap = try Simulator(cpus: 1, duration: seconds, seed: 1)
        .run(capped, workload: capWorkload.map { SimulatedVCPU($0.id, parameters: $0.parameters) })
    let simCapError = ((simCap.row(cappedID)?.actualShare ?? 0) / 0.3 - 1) * 100

    for (label, priority) in [("FIFO 10", WorkerPriority.realTimeFIFO(10)), ("inherited", .inherited)] {
        let run = try runCounterGuests(policy, workers: 1, vcpus: weighted, duration: seconds, workerPriority: priority)
        let refused = run.workersWithoutPriority > 0 ? " (refused)" : ""
        let worker = label + refused
        let held = weighted.map { Double(run.report.row($0.id)?.accounting.runTime ?? 0) }
        let progress = weighted.map { Double(run.progress[$0.id] ?? 0) }
        let kernel = weighted.map { Double(run.kernel[$0.id]?.onCPU ?? 0) }
        let simJain = simWeighted.jainIndex ?? 0
        for (measure, value) in [
            ("Jain, slot time (T_cpu+T_io)", jain(held, weights: weights)),
            ("Jain, guest iterations", jain(progress, weights: weights)),
            ("Jain, kernel on-CPU (schedstat)", jain(kernel, weights: weights)),
        ] {
            real.add([
                .text("weights 1:2:4, 3 s"), .text(worker), .text(measure), .number(value, decimals: 5),
                .number(simJain, decimals: 5), .number(value / simJain, decimals: 4),
            ])
        }
        latency.add(
            [.text(worker), .text("kick -> out of guest")] + [
                .number(Double(run.preemptionLatencies.count), decimals: 0)
            ]
                + microseconds(run.preemptionLatencies, [50, 90, 99, 99.9, 100]))
        latency.add(
            [.text(worker), .text("kick -> parked")] + [.number(Double(run.parkLatencies.count), decimals: 0)]
                + microseconds(run.parkLatencies, [50, 90, 99, 99.9, 100]))
        latency.add(
            [.text(worker), .text("resume -> running")] + [.number(Double(run.resumeLatencies.count), decimals: 0)]
                + microseconds(run.resumeLatencies, [50, 90, 99, 99.9, 100]))
        latency.add(
            [.text(worker), .text("runnable -> running (T_wait)")] + [
                .number(Double(run.report.latencies.count), decimals: 0)
            ]
                + microseconds(run.report.latencies, [50, 90, 99, 99.9, 100]))

        let capRun = try runCounterGuests(
            capped, workers: 1, vcpus: capWorkload, duration: seconds, workerPriority: priority)
        let share = capRun.report.row(cappedID)?.actualShare ?? 0
        let kernelShare = Double(capRun.kernel[cappedID]?.onCPU ?? 0) / Double(seconds)
        let simShare = simCap.row(cappedID)?.actualShare ?? 0
        real.add([
            .text("vCPU cap 30 % vs 1 uncapped, 3 s"), .text(worker), .text("capped vCPU's share of the slot"),
            .number(share, decimals: 5), .number(simShare, decimals: 5), .number(share / simShare, decimals: 4),
        ])
        for (measure, value) in [
            ("cap error %, slot time", (share / 0.3 - 1) * 100),
            ("cap error %, kernel on-CPU", (kernelShare / 0.3 - 1) * 100),
        ] {
            real.add([
                .text("vCPU cap 30 % vs 1 uncapped, 3 s"), .text(worker), .text(measure), .number(value, decimals: 3),
                .number(simCapError, decimals: 3), .text("-"),
            ])
        }
    }
} catch {
    print("sched-bench: \(error)")
    exit(1)
}
real.note("policy: weighted-fair 2 ms (+ cap 3 ms / 10 ms); targets: Jain >= 0.99, cap within +-2 %")
real.note("slot time: what the dispatcher charged (resume to parked); kernel on-CPU: the vCPU thread's schedstat")
real.note("simulated: the same policy and workload in the Simulator (exact slices, no kick delay)")
real.print(options)
latency.note("out of guest: the kicked KVM_RUN returned (ExitStatistics.lastKickExitNanoseconds)")
latency.note("parked: VCPURunner paused, pending I/O completed; resume: VCPURunner.resume() returned")
latency.print(options)
