/// What a simulation or a real dispatcher run produced: accounting per vCPU and
/// per VM, entitled versus actual shares with Jain's fairness index, runnable-to-running
/// latency percentiles, deadline misses, and optionally every slice.
public struct SchedulingReport: Sendable {
    /// One vCPU's line.
    public struct VCPURow: Sendable, Equatable {
        /// The vCPU.
        public let id: VCPUID
        /// Where its time went.
        public let accounting: VCPUAccounting
        /// CPUs' worth of time the vCPU received: (T_cpu + T_io) / duration.
        public let actualShare: Double
        /// CPUs' worth of time it was entitled to (see ``SchedulingReport/jainIndex``): the
        /// max-min fair division of the CPUs by ``entitlement`` limited by ``demand``.
        public let entitledShare: Double
        /// What the policy entitles it to at the end of the run (weight and cap).
        public let entitlement: Entitlement
        /// The most of a CPU it asked for: T_run / (T_run + T_blocked), 1 when it never blocked.
        /// A vCPU that spent part of the run blocked (before its first wake-up, halted, paused)
        /// is entitled to no more than that fraction.
        public let demand: Double
        /// Deadlines missed (real-time policies only).
        public let deadlineMisses: Int
    }

    /// The policy's ``SchedulingPolicy/name``.
    public let policyName: String
    /// Number of CPUs the vCPUs shared.
    public let cpus: Int
    /// Length of the run.
    public let duration: Nanoseconds
    /// One row per vCPU, in workload order.
    public let vcpus: [VCPURow]
    /// Accounting added up per VM, in VM order.
    public let vms: [(vm: VMID, accounting: VCPUAccounting)]
    /// Jain's index over actual/entitled shares. Entitlements divide the CPUs by weighted
    /// max-min fairness (``FairShare/entitledShares(capacity:claims:)``) using each vCPU's
    /// ``Entitlement`` from the policy, limited by its demand: T_run / (T_run + T_blocked), what
    /// it would have used had it never had to wait (1 for an always-runnable vCPU). `nil` when
    /// no vCPU was entitled to anything.
    public let jainIndex: Double?
    /// Delays from runnable to running (after wake-ups and after preemptions).
    public let latencies: LatencySamples
    /// Every slice, when the run recorded a trace (empty otherwise).
    public let trace: [SliceRecord]
    /// What a real dispatcher spent per decision outside the guests (`nil` for a simulation).
    public var decisionCost: DecisionCost?

    /// Builds the report of a run of `duration` on `cpus` CPUs from a settled core; rows follow
    /// the order of `vcpus`.
    public init<Policy: SchedulingPolicy>(
        cpus: Int, duration: Nanoseconds, vcpus ids: [VCPUID], core: SchedulerCore<Policy>,
        trace: [SliceRecord] = []
    ) {
        let policy = core.policy, accountant = core.accountant
        self.policyName = policy.name
        self.cpus = cpus
        self.duration = duration
        let span = Double(max(1, duration))
        let records = ids.map { accountant.accounting(of: $0) ?? VCPUAccounting() }
        let entitlements = ids.map { policy.entitlement(of: $0) ?? Entitlement(weight: 0) }
        // What it would have used had it never waited: the fraction of its not-waiting time it
        // spent running (1 for an always-runnable vCPU).
        let demands = records.map { record -> Double in
            let notWaiting = record.runTime &+ record.blockedTime
            return notWaiting > 0 ? Double(record.runTime) / Double(notWaiting) : 1
        }
        let claims = zip(entitlements, demands).map { entitlement, demand -> (weight: Double, limit: Double) in
            (entitlement.weight, min(entitlement.maximumFraction, demand))
        }
        let entitled = FairShare.entitledShares(capacity: Double(cpus), claims: claims)
        let actual = records.map { Double($0.runTime) / span }
        self.vcpus = ids.indices.map { i in
            VCPURow(
                id: ids[i], accounting: records[i], actualShare: actual[i], entitledShare: entitled[i],
                entitlement: entitlements[i], demand: demands[i], deadlineMisses: policy.deadlineMisses(of: ids[i]))
        }
        self.vms = accountant.vms.map { ($0, accountant.accounting(ofVM: $0)) }
        self.jainIndex = FairShare.jainIndex(actual: actual, entitled: entitled)
        self.latencies = accountant.latencies
        self.trace = trace
    }

    /// The row of one vCPU.
    public func row(_ id: VCPUID) -> VCPURow? { vcpus.first { $0.id == id } }

    /// Deadline misses of all vCPUs.
    public var totalDeadlineMisses: Int { vcpus.reduce(0) { $0 + $1.deadlineMisses } }

    /// The trace, one ``SliceRecord`` per line.
    public var traceText: String { trace.map(\.description).joined(separator: "\n") }

    /// A plain-text table of the report.
    public func renderTable() -> String {
        func ms(_ ns: Nanoseconds) -> String { formatFixed(Double(ns) / 1e6, decimals: 3) }
        var lines = [
            "\(policyName) on \(cpus) CPU(s) for \(formatDuration(duration))",
            "vcpu  T_cpu(ms)  T_io(ms)  T_wait(ms)  slices  preempt  share  entitled  misses",
        ]
        for row in vcpus {
            let a = row.accounting
            lines.append(
                [
                    "\(row.id)", ms(a.cpuTime), ms(a.ioTime), ms(a.waitTime), "\(a.slices)", "\(a.preemptions)",
                    formatFixed(row.actualShare, decimals: 4), formatFixed(row.entitledShare, decimals: 4),
                    "\(row.deadlineMisses)",
                ].joined(separator: "  "))
        }
        for (vm, a) in vms {
            lines.append("\(vm): T_cpu \(ms(a.cpuTime)) ms, T_io \(ms(a.ioTime)) ms, T_wait \(ms(a.waitTime)) ms")
        }
        let jain = jainIndex.map { formatFixed($0, decimals: 5) } ?? "n/a"
        let p = latencies.percentiles([50, 90, 99, 99.9])
        let text = p.map { $0.map { formatDuration($0) } ?? "n/a" }
        lines.append("Jain \(jain); latency p50 \(text[0]) p90 \(text[1]) p99 \(text[2]) p99.9 \(text[3])")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `value` with exactly `decimals` (0...9) digits after the point, without Foundation.
func formatFixed(_ value: Double, decimals: Int) -> String {
    let places = min(9, max(0, decimals))
    var unit: Int64 = 1
    for _ in 0..<places { unit *= 10 }
    let scaledValue = (value * Double(unit)).rounded()
    guard scaledValue.magnitude < 9e18 else { return String(value) }
    let scaled = Int64(scaledValue)
    let whole = String(scaled.magnitude / UInt64(unit))
    let sign = scaled < 0 ? "-" : ""
    guard places > 0 else { return sign + whole }
    let fraction = String(scaled.magnitude % UInt64(unit))
    return sign + whole + "." + String(repeating: "0", count: places - fraction.count) + fraction
}
