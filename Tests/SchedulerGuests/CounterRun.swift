import HostSupport
import KVM
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

/// What one dispatcher run of counting guests produced.
public struct CounterRun: Sendable {
    /// The dispatcher's report (accounting, shares, Jain, latencies, trace if recorded).
    public let report: SchedulingReport
    /// Loop iterations each vCPU's guest completed.
    public let progress: [VCPUID: UInt64]
    /// Kick → out of the guest, over every preempted slice of every vCPU.
    public let preemptionLatencies: LatencySamples
    /// Kick → parked (pending I/O completed), likewise.
    public let parkLatencies: LatencySamples
    /// `VCPURunner.resume()` at the start of a slice.
    public let resumeLatencies: LatencySamples
    /// Workers whose requested priority the kernel refused.
    public let workersWithoutPriority: Int
    /// The kernel's view of each vCPU thread, read just before the threads were stopped.
    public let kernel: [VCPUID: ThreadSchedStat]
    /// The first policy error, if any.
    public let failure: SchedulerError?
    /// Kernel thread ids of the vCPU threads (all gone after the run).
    public let threadIDs: [Int32]
    /// Kernel thread ids of the dispatcher's workers (all gone after the run).
    public let workerThreadIDs: [Int32]
}

/// Runs counting guests for `vcpus` (VMs are created from the VM ids, one vCPU per entry,
/// indices 0… in each VM) under `policy` on `workers` slots for `duration`, then stops
/// everything. Halted vCPUs (``CounterProgram/haltEvery64``) and pending I/Os
/// (``CounterProgram/ioWaitEvery64``) are woken about every `wakeInterval`.
public func runCounterGuests<Policy: SchedulingPolicy>(
    _ policy: Policy, workers: Int, vcpus: [(id: VCPUID, parameters: SchedulingParameters)],
    duration: Nanoseconds, program: CounterProgram = .spin, wakeInterval: Nanoseconds = 1_000_000,
    workerAffinity: [CPUAffinity] = [], workerPriority: WorkerPriority = .inherited, recordsTrace: Bool = false
) throws -> CounterRun {
    let kvm = try KVMSystem()
    let vmIDs = Array(Set(vcpus.map(\.id.vm))).sorted()
    var machines: [VMID: CounterVM] = [:]
    for vm in vmIDs {
        let count = Int(vcpus.filter { $0.id.vm == vm }.map(\.id.index).max() ?? 0) + 1
        machines[vm] = try CounterVM(id: vm, vcpus: count, program: program, kvm: kvm)
    }
    defer { for machine in machines.values { machine.stop() } }
    let gated = vcpus.compactMap { entry in
        machines[entry.id.vm].map { (entry, $0.vcpus[Int(entry.id.index)], $0.counters[Int(entry.id.index)]) }
    }

    let dispatcher = try VCPUDispatcher(
        policy: policy, workers: workers, workerAffinity: workerAffinity, workerPriority: workerPriority,
        recordsTrace: recordsTrace)
    for (entry, vcpu, _) in gated { try dispatcher.add(vcpu, parameters: entry.parameters) }
    try dispatcher.start()
    let end = monotonicNanoseconds() &+ duration
    while monotonicNanoseconds() < end {
        if program != .spin {
            for (entry, _, counter) in gated {
                let pendingIO = counter.completeIO()
                if pendingIO || (program == .haltEvery64 && dispatcher.runState(of: entry.id) == .blocked) {
                    dispatcher.wake(entry.id)
                }
            }
        }
        var pause = timespec(tv_sec: 0, tv_nsec: Int(min(wakeInterval, end &- min(end, monotonicNanoseconds()))))
        nanosleep(&pause, nil)
    }
    dispatcher.stop()
    let kernel = dispatcher.kernelView().vcpus
    var preemption = LatencySamples(), park = LatencySamples(), resume = LatencySamples()
    for (_, vcpu, _) in gated {
        for sample in vcpu.preemptionLatencies.samples { preemption.append(sample) }
        for sample in vcpu.parkLatencies.samples { park.append(sample) }
        for sample in vcpu.resumeLatencies.samples { resume.append(sample) }
    }
    let threadIDs = gated.compactMap { $0.1.hostThreadID }
    return CounterRun(
        report: dispatcher.report(),
        progress: Dictionary(uniqueKeysWithValues: gated.map { ($0.0.id, $0.2.progress) }),
        preemptionLatencies: preemption, parkLatencies: park, resumeLatencies: resume,
        workersWithoutPriority: dispatcher.workersWithoutPriority,
        kernel: Dictionary(kernel, uniquingKeysWith: { a, _ in a }), failure: dispatcher.failure, threadIDs: threadIDs,
        workerThreadIDs: dispatcher.workerThreadIDs.compactMap { $0 })
}
