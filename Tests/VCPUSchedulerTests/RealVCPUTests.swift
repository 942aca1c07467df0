import KVM
import SchedulerGuests
import TestSupport
import Testing
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

/// The dispatcher on real KVM vCPUs: tiny real-mode guests that OUT a counter on every loop
/// iteration (``CounterProgram``). Each tolerance follows from the mechanism (the slice length,
/// the kick latency measured in the run, the host's cost per timeslice) and says how in a
/// comment; guest progress is judged against the CPU time the kernel's schedstat reports.
@Suite(
    "Dispatcher on real vCPUs", .usesKVM,
    .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct RealVCPUTests {
    static let weighted124: [(id: VCPUID, parameters: SchedulingParameters)] = [1, 2, 4].enumerated().map { i, w in
        (VCPUID(UInt32(i)), SchedulingParameters(weight: SchedulingWeight(UInt32(w))))
    }

    /// What the host spends on a vCPU thread per kernel timeslice outside the guest (entry and
    /// exit, a kick, parking and waking): bounded by the thread wake-up cost measured on this
    /// machine kind, about 50 µs per wake-up (see REFERENCE.md), used as the bound.
    static let hostCostPerTimeslice: Nanoseconds = 50_000

    @Test("weights 1:2:4 on one slot give shares of 1/7, 2/7, 4/7 within a slice, and guest progress to match")
    func weightedShares() throws {
        let slice = 2 * ms
        let run = try runCounterGuests(
            WeightedFairPolicy(slice: slice), workers: 1, vcpus: Self.weighted124, duration: 1_500 * ms)
        #expect(run.failure == nil)
        let rows = try Self.weighted124.map { try #require(run.report.row($0.id)) }
        let times = rows.map { Double($0.accounting.cpuTime) }
        let total = times.reduce(0, +)
        // A weighted-fair scheduler keeps each vCPU within one slice of its ideal share of the
        // time used; a slice can overrun by the time a kick takes to bring the vCPU out of the
        // guest (the largest measured in this run).
        let overrun = Double(run.preemptionLatencies.maximum ?? 0)
        for (time, weight) in zip(times, [1.0, 2.0, 4.0]) {
            let ideal = total * weight / 7
            #expect(abs(time - ideal) <= Double(slice) + overrun, "weight \(weight): \(time) ns, ideal \(ideal) ns")
        }
        // The guests ran: progress follows the CPU time the kernel gave each vCPU thread. Per
        // on-CPU nanosecond, every guest (the same loop) advances at the same rate, less what
        // the host spent on the thread outside the guest, at most `hostCostPerTimeslice` per
        // kernel timeslice; two vCPUs' rates differ by at most the sum of those fractions.
        var rates: [(rate: Double, slack: Double)] = []
        for entry in Self.weighted124 {
            let kernel = try #require(run.kernel[entry.id], "no schedstat for \(entry.id)")
            let progress = Double(run.progress[entry.id] ?? 0)
            #expect(progress > 0, "\(entry.id) made no progress")
            rates.append(
                (
                    progress / Double(kernel.onCPU),
                    Double(kernel.timeslices * Self.hostCostPerTimeslice) / Double(kernel.onCPU)
                ))
        }
        for a in rates.indices {
            for b in rates.indices where a < b {
                #expect(
                    abs(rates[a].rate / rates[b].rate - 1) <= rates[a].slack + rates[b].slack,
                    "progress per on-CPU time: \(rates)")
            }
        }
        // The slot was used: one slice at a time, preemptions at slice ends.
        #expect(run.report.vcpus.allSatisfy { $0.accounting.slices > 10 && $0.accounting.preemptions > 0 })
    }

    @Test("a vCPU capped at 30 % stays near its cap while its competitor takes the rest")
    func capRespected() throws {
        let capped = VCPUID(vm: VMID(0), index: 0), free = VCPUID(vm: VMID(1), index: 0)
        let run = try runCounterGuests(
            BandwidthCapped(WeightedFairPolicy(slice: 2 * ms)), workers: 1,
            vcpus: [
                (capped, SchedulingParameters(cap: try BandwidthCap(quota: 3 * ms, period: 10 * ms))),
                (free, SchedulingParameters()),
            ], duration: 1_000 * ms)
        #expect(run.failure == nil)
        let cappedShare = try #require(run.report.row(capped)).actualShare
        let freeShare = try #require(run.report.row(free)).actualShare
        // The cap is enforced per period with any overrun charged to the next one, so over the
        // run the capped vCPU gets quota / period of it, give or take the quota of the last,
        // partial period and one overrun not charged yet (at most the largest kick latency
        // measured): (3 ms + overrun) / 1 s.
        let tolerance = Double(3 * ms + (run.preemptionLatencies.maximum ?? 0)) / Double(1_000 * ms)
        #expect(abs(cappedShare - 0.3) <= tolerance, "capped share \(cappedShare), tolerance \(tolerance)")
        #expect(freeShare > cappedShare)
        #expect((run.progress[capped] ?? 0) > 0 && (run.progress[capped] ?? 0) < (run.progress[free] ?? 0))
        // Per-VM accounting adds up to the vCPU's.
        #expect(run.report.vms.first { $0.vm == VMID(0) }?.accounting == run.report.row(capped)?.accounting)
    }

    @Test("every vCPU of two VMs makes progress under every policy, on fewer slots than vCPUs")
    func progressUnderEveryPolicy() throws {
        let vcpus: [(id: VCPUID, parameters: SchedulingParameters)] = try (0..<3).map { i in
            (
                VCPUID(vm: VMID(UInt32(i % 2)), index: UInt32(i / 2)),
                SchedulingParameters(
                    weight: SchedulingWeight(UInt32(1 << i)), priority: i,
                    cap: try BandwidthCap(quota: 4 * ms, period: 10 * ms),
                    reservation: try RealTimeReservation(budget: 2 * ms, period: 10 * ms))
            )
        }
        func check<P: SchedulingPolicy>(_ policy: P) throws {
            let run = try runCounterGuests(policy, workers: 2, vcpus: vcpus, duration: 300 * ms)
            #expect(run.failure == nil, "\(policy.name)")
            for (id, _) in vcpus {
                #expect((run.progress[id] ?? 0) > 0, "\(id) made no progress under \(policy.name)")
                #expect((run.report.row(id)?.accounting.slices ?? 0) > 0, "\(id) never ran under \(policy.name)")
            }
            // The kernel saw the vCPU threads run.
            #expect(run.kernel.values.allSatisfy { $0.onCPU > 0 }, "\(policy.name)")
        }
        try check(RoundRobinPolicy(timeSlice: 2 * ms))
        try check(PriorityAgingPolicy(timeSlice: 2 * ms, agingInterval: 2 * ms))
        try check(WeightedFairPolicy(slice: 2 * ms))
        try check(BandwidthCapped(WeightedFairPolicy(slice: 2 * ms)))
        try check(EarliestDeadlinePolicy())
    }

    @Test(
        "a halting vCPU leaves the run queue and runs again when woken",
        arguments: [CounterProgram.haltEvery64, .ioWaitEvery64])
    func blockAndWake(program: CounterProgram) throws {
        let vcpus = (0..<2).map { (id: VCPUID(UInt32($0)), parameters: SchedulingParameters()) }
        let run = try runCounterGuests(
            RoundRobinPolicy(timeSlice: 5 * ms), workers: 1, vcpus: vcpus, duration: 300 * ms, program: program,
            wakeInterval: 2 * ms)
        #expect(run.failure == nil)
        for (id, _) in vcpus {
            let accounting = try #require(run.report.row(id)).accounting
            // Each block comes every 64 iterations; running past 64 means it came back.
            #expect((run.progress[id] ?? 0) > 3 * 64, "\(id): \(run.progress[id] ?? 0) iterations")
            #expect(accounting.wakeups > 3 && accounting.blockedTime > 0)
        }
    }

    @Test("stop joins every worker and vCPU thread and closes every KVM descriptor", .usesKVM(exclusively: true))
    func stopIsClean() throws {
        let descriptorsBefore = kvmDescriptorCount()
        let run = try runCounterGuests(
            WeightedFairPolicy(slice: 2 * ms), workers: 2, vcpus: Self.weighted124, duration: 200 * ms)
        #expect(run.threadIDs.count == 3 && run.workerThreadIDs.count == 2)
        let survivors = (run.threadIDs + run.workerThreadIDs).filter { access("/proc/self/task/\($0)", F_OK) == 0 }
        #expect(survivors.isEmpty, "threads \(survivors) survived the stop")
        // Only KVM tests open KVM descriptors, and none runs alongside this one.
        #expect(kvmDescriptorCount() == descriptorsBefore)
    }

    /// Open descriptors of /dev/kvm, KVM VMs and vCPUs.
    func kvmDescriptorCount() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            guard length > 0 else { continue }
            let link = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.contains("kvm") { count += 1 }
        }
        return count
    }
}
