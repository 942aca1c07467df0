// sched-demo: the VCPUScheduler policies on one workload, in the simulator and on real KVM vCPUs
// (tiny real-mode guests counting over port I/O), side by side; writes an SVG timeline per run.
//
//   swift run sched-demo [--seconds S] [--out DIR] [--inherit]
import ArgumentParser
import SchedulerGuests
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

let ms: Nanoseconds = 1_000_000

/// The workload: three vCPUs of VM 0 with weights 1:2:4 (priorities 0/1/2, real-time budgets
/// 1/2/3 ms every 10 ms) and one vCPU of VM 1 capped at 20 % (budget 2 ms / 10 ms), all
/// always runnable, sharing one host slot.
func makeWorkload() throws -> [(id: VCPUID, parameters: SchedulingParameters)] {
    try [
        (
            VCPUID(vm: VMID(0), index: 0),
            SchedulingParameters(
                weight: SchedulingWeight(1), priority: 0,
                reservation: RealTimeReservation(budget: 1 * ms, period: 10 * ms))
        ),
        (
            VCPUID(vm: VMID(0), index: 1),
            SchedulingParameters(
                weight: SchedulingWeight(2), priority: 1,
                reservation: RealTimeReservation(budget: 2 * ms, period: 10 * ms))
        ),
        (
            VCPUID(vm: VMID(0), index: 2),
            SchedulingParameters(
                weight: SchedulingWeight(4), priority: 2,
                reservation: RealTimeReservation(budget: 3 * ms, period: 10 * ms))
        ),
        (
            VCPUID(vm: VMID(1), index: 0),
            SchedulingParameters(
                weight: SchedulingWeight(2), priority: 1, cap: BandwidthCap(quota: 2 * ms, period: 10 * ms),
                reservation: RealTimeReservation(budget: 2 * ms, period: 10 * ms))
        ),
    ]
}

/// One policy, simulated and then run for real; prints and returns the table rows.
@discardableResult
func compare<P: SchedulingPolicy>(
    _ policy: P, workload: [(id: VCPUID, parameters: SchedulingParameters)], duration: Nanoseconds, options: SchedDemo
) throws -> [String] {
    let outDir = options.out
    let ids = workload.map(\.id)
    let simulated = try Simulator(cpus: 1, duration: duration, seed: 1, recordsTrace: true)
        .run(policy, workload: workload.map { SimulatedVCPU($0.id, parameters: $0.parameters) })
    let real: CounterRun? =
        CounterVM.kvmAvailable
        ? try runCounterGuests(
            policy, workers: 1, vcpus: workload, duration: duration, workerPriority: options.workerPriority,
            recordsTrace: true)
        : nil
    if let failure = real?.failure { print("  policy error: \(failure)") }
    if (real?.workersWithoutPriority ?? 0) > 0 {
        print("  (the kernel refused the worker priority; running with the inherited one)")
    }
    let slug = policy.name.map { $0.isLetter || $0.isNumber ? $0 : "-" }
    var rows: [String] = []
    var runs = [("sim", simulated)]
    if let real { runs.append(("real", real.report)) }
    for (source, report) in runs {
        let path = "\(outDir)/\(String(slug))-\(source).svg"
        try write(
            TimelineSVG.render(
                trace: report.trace, vcpus: ids, duration: report.duration, title: "\(policy.name) (\(source))"),
            to: path)
        let shares = ids.map { id in report.row(id).map { pad(fixed($0.actualShare * 100, 1), 6) } ?? "     -" }
        let jain = report.jainIndex.map { fixed($0, 4) } ?? "  -  "
        let p99 = report.latencies.percentile(99).map { fixed(Double($0) / 1e6, 2) } ?? "-"
        let progress = source == "real" ? ids.map { String(real?.progress[$0] ?? 0) }.joined(separator: "/") : ""
        rows.append(
            "\(pad(policy.name, 34)) \(pad(source, 4)) \(shares.joined(separator: " "))  \(pad(jain, 6))  \(pad(p99, 7))  \(progress)"
        )
        rows.append("    timeline: \(path)")
    }
    if let real {
        // The kernel's view: on-CPU time of each vCPU thread (schedstat) over the run.
        let span = Double(max(1, real.report.duration))
        let shares = ids.map { id in real.kernel[id].map { pad(fixed(Double($0.onCPU) / span * 100, 1), 6) } ?? "     -"
        }
        rows.append("\(pad("", 34)) \(pad("kern", 4)) \(shares.joined(separator: " "))")
    }
    for row in rows { print(row) }
    return rows
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale), fraction = abs(scaled % Int(scale))
    let digits = String(fraction)
    return (value < 0 && whole == 0 ? "-" : "") + "\(whole)"
        + (decimals > 0 ? "." + String(repeating: "0", count: decimals - digits.count) + digits : "")
}

/// A file that could not be written.
struct WriteFailure: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "\(path): cannot write: \(reason)" }
}

func write(_ text: String, to path: String) throws {
    guard let file = fopen(path, "w") else { throw WriteFailure(path: path, reason: String(cString: strerror(errno))) }
    let written = fputs(text, file) >= 0
    let closed = fclose(file) == 0
    guard written && closed else { throw WriteFailure(path: path, reason: String(cString: strerror(errno))) }
}

/// `sched-demo`: every policy on one workload, simulated and on real vCPUs.
@main
struct SchedDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sched-demo",
        abstract: "Run every scheduling policy on one workload, in the simulator and on real KVM vCPUs.",
        discussion: """
            Writes one SVG timeline per policy and run into --out. Without /dev/kvm only the \
            simulator runs. Exit status: 0 on success, 1 when a run or a file write fails, 64 on a \
            usage error.
            """)

    @Option(parsing: .unconditional, help: "Seconds per run (more than 0, at most 600).") var seconds: Double = 1.2
    @Option(help: "Directory for the SVG timelines (created if missing).") var out = "/tmp/sched-demo"
    @Flag(help: "Dispatcher workers keep the normal priority instead of SCHED_FIFO 10.") var inherit = false

    /// SCHED_FIFO workers wake on time on a busy host; `--inherit` shows what happens without.
    var workerPriority: WorkerPriority { inherit ? .inherited : .realTimeFIFO(10) }

    func validate() throws {
        guard seconds.isFinite, seconds > 0, seconds <= 600 else {
            throw ValidationError("--seconds must be more than 0 and at most 600, not \(seconds)")
        }
    }

    func run() throws {
        if mkdir(out, 0o755) != 0 && errno != EEXIST {
            printError("sched-demo: \(out): cannot create the directory: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        let workload = try makeWorkload()
        let ids = workload.map(\.id)
        if !CounterVM.kvmAvailable { print("/dev/kvm is not available: simulator only") }
        print(
            "sched-demo: \(ids.map(\.description).joined(separator: ", ")) on 1 host slot, \(seconds) s per run, workers \(workerPriority)"
        )
        print(
            "  vm0.0/0.1/0.2: weights 1:2:4, priorities 0/1/2, RT 1/2/3 ms per 10 ms; vm1.0: weight 2, cap 20 %, RT 2/10 ms"
        )
        print("")
        print(
            "\(pad("policy", 34)) \(pad("run", 4)) \(ids.map { pad($0.description + "%", 6) }.joined(separator: " "))  Jain    p99 wait ms  guest iterations (real)"
        )
        do {
            let duration = Nanoseconds(seconds * 1e9)
            try compare(RoundRobinPolicy(timeSlice: 5 * ms), workload: workload, duration: duration, options: self)
            try compare(
                PriorityAgingPolicy(timeSlice: 5 * ms, agingInterval: 5 * ms), workload: workload, duration: duration,
                options: self)
            try compare(WeightedFairPolicy(slice: 5 * ms), workload: workload, duration: duration, options: self)
            try compare(
                BandwidthCapped(WeightedFairPolicy(slice: 5 * ms)), workload: workload, duration: duration,
                options: self)
            try compare(EarliestDeadlinePolicy(), workload: workload, duration: duration, options: self)
        } catch {
            printError("sched-demo: \(error)")
            throw ExitCode(1)
        }
        print("")
        print("share: the vCPU's CPU time (guest + exit handling) / run length; Jain over actual/entitled shares")
        print("kern: the vCPU thread's on-CPU time from /proc/self/task/<tid>/schedstat / run length")
        print("open the .svg files in a browser: one lane per vCPU, one bar per slice, exit handling darker")
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    let line = text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { Glibc.write(2, $0.baseAddress, $0.count - 1) }
}
