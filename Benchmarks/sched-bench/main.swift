// sched-bench: cost of one scheduling decision (pick-next + account) per policy at 10, 100
// and 1000 runnable vCPUs, side by side with a naive O(n) linear-scan fair-share policy.
//
//   swift run -c release sched-bench [--json] [--rounds N]
import BenchmarkSupport
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
let vmCaps = try [VMID(0): BandwidthCap(quota: 1000 * us, period: 1000 * us), VMID(1): BandwidthCap(quota: 1000 * us, period: 1000 * us)]

var report = BenchmarkReport(
    title: "sched-bench: ns per decision (pick-next + account), median of \(rounds) rounds",
    columns: ["policy", "vCPUs", "median ns", "min ns", "max ns", "linear / this"])

do {
    for n in sizes {
        let baseline = try summary(LinearScanFairPolicy(slice: 1000 * us), n: n)
        var rows: [(String, Summary)] = [
            (try RoundRobinPolicy(timeSlice: 1000 * us).name, try summary(RoundRobinPolicy(timeSlice: 1000 * us), n: n)),
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
