import HostSupport
import KVM
import SchedulerGuests
import Synchronization
import TestSupport
import Testing
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

/// A vCPU whose every slice ends halted at once (it blocks until woken).
final class HaltingVCPU: SchedulableVCPU, @unchecked Sendable {
    let schedulingID: VCPUID
    let slices = Atomic<Int>(0)
    init(_ id: VCPUID) { schedulingID = id }
    func runSlice(_ slice: Nanoseconds) -> SliceReport {
        slices.add(1, ordering: .relaxed)
        return SliceReport(guestTime: 0, exitHandling: 0, end: .halted)
    }
    func preempt() {}
}

/// Membership changes while the dispatcher runs: a vCPU removed for good, suspended and resumed
/// (its VM paused), given new parameters (its VM's share resized). Each takes effect at a moment
/// the vCPU is not running — a running slice is preempted and waited for — so the policy never
/// sees a running vCPU change, and the vCPU is parked when the call returns.
@Suite("Dispatcher membership", .serialized)
struct MembershipTests {
    /// Waits until `vcpu` has run at least `count` slices.
    func waitForSlices(_ vcpu: SleepingVCPU, _ count: Int) throws {
        try waitUntil("\(vcpu.schedulingID) to run \(count) slices") { vcpu.slices.load(ordering: .relaxed) >= count }
    }

    @Test("a removed vCPU, running or not, leaves the policy and the report and never runs again")
    func removeWhileRunning() throws {
        // Slices as long as a second: the removed vCPU is inside one when removed, so removal
        // has to preempt it.
        let vcpus = (0..<3).map { SleepingVCPU(VCPUID(UInt32($0)), longest: 1_000_000_000) }
        let dispatcher = try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: 1_000 * ms), workers: 1)
        for vcpu in vcpus { try dispatcher.add(vcpu, parameters: SchedulingParameters()) }
        try dispatcher.start()
        defer { dispatcher.stop() }
        try waitForSlices(vcpus[0], 1)
        #expect(dispatcher.runState(of: vcpus[0].schedulingID) == .running)
        let accounting = try #require(dispatcher.remove(vcpus[0].schedulingID))
        #expect(accounting.slices == 1 && accounting.preemptions == 1)
        #expect(vcpus[0].preemptions.load(ordering: .relaxed) >= 1, "removal preempted the running slice")
        #expect(dispatcher.runState(of: vcpus[0].schedulingID) == nil)
        #expect(dispatcher.remove(vcpus[0].schedulingID) == nil, "a second removal finds nothing")
        // A removed vCPU that was only runnable leaves as well.
        #expect(dispatcher.runState(of: vcpus[2].schedulingID) == .runnable)
        #expect(dispatcher.remove(vcpus[2].schedulingID) != nil)
        // The remaining one gets the slot.
        try waitForSlices(vcpus[1], 1)
        let before = (vcpus[0].slices.load(ordering: .relaxed), vcpus[2].slices.load(ordering: .relaxed))
        #expect(before.1 == 0)
        let report = dispatcher.report()
        #expect(report.vcpus.map(\.id) == [vcpus[1].schedulingID])
        #expect(dispatcher.failure == nil)
        dispatcher.stop()
        #expect((vcpus[0].slices.load(ordering: .relaxed), vcpus[2].slices.load(ordering: .relaxed)) == before)
    }

    @Test("a suspended vCPU does not run until resumed; the other gets the slot meanwhile")
    func suspendAndResume() throws {
        let vcpus = (0..<2).map { SleepingVCPU(VCPUID(UInt32($0)), longest: 2 * ms) }
        let dispatcher = try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: 2 * ms), workers: 1)
        for vcpu in vcpus { try dispatcher.add(vcpu, parameters: SchedulingParameters()) }
        try dispatcher.start()
        defer { dispatcher.stop() }
        try waitForSlices(vcpus[0], 2)
        try dispatcher.suspend(vcpus[0].schedulingID)
        try dispatcher.suspend(vcpus[0].schedulingID)  // again: nothing changes
        #expect(dispatcher.runState(of: vcpus[0].schedulingID) == .blocked)
        let suspendedAt = vcpus[0].slices.load(ordering: .relaxed)
        let otherAt = vcpus[1].slices.load(ordering: .relaxed)
        try waitForSlices(vcpus[1], otherAt + 10)
        #expect(vcpus[0].slices.load(ordering: .relaxed) == suspendedAt, "a suspended vCPU ran")
        try dispatcher.resume(vcpus[0].schedulingID)
        try waitForSlices(vcpus[0], suspendedAt + 2)
        #expect(dispatcher.failure == nil)
        let unknown = VCPUID(9)
        #expect(throws: DispatcherError.scheduler(.unknownVCPU(unknown))) { try dispatcher.suspend(unknown) }
        #expect(throws: DispatcherError.scheduler(.unknownVCPU(unknown))) { try dispatcher.resume(unknown) }
    }

    @Test("a wake-up that arrives while a vCPU is suspended is kept for the resume; none, none made up")
    func wakeDuringSuspension() throws {
        let halting = HaltingVCPU(VCPUID(0))
        let dispatcher = try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: ms), workers: 1)
        try dispatcher.add(halting, parameters: SchedulingParameters())
        try dispatcher.start()
        defer { dispatcher.stop() }
        try waitUntil("the vCPU to halt") { dispatcher.runState(of: halting.schedulingID) == .blocked }
        #expect(halting.slices.load(ordering: .relaxed) == 1)
        // Suspended while blocked, resumed with no wake-up: still blocked.
        try dispatcher.suspend(halting.schedulingID)
        try dispatcher.resume(halting.schedulingID)
        #expect(dispatcher.runState(of: halting.schedulingID) == .blocked)
        // A wake-up while suspended does not run it…
        try dispatcher.suspend(halting.schedulingID)
        dispatcher.wake(halting.schedulingID)
        #expect(dispatcher.runState(of: halting.schedulingID) == .blocked)
        usleep(20_000)
        #expect(halting.slices.load(ordering: .relaxed) == 1)
        // …the resume does.
        try dispatcher.resume(halting.schedulingID)
        try waitUntil("the woken vCPU's second slice") { halting.slices.load(ordering: .relaxed) == 2 }
        #expect(dispatcher.failure == nil)
    }

    @Test("new weights apply while the dispatcher runs: entitlements follow, a running vCPU is preempted first")
    func resizeShare() throws {
        let vcpus = (0..<2).map { SleepingVCPU(VCPUID(UInt32($0)), longest: 1_000_000_000) }
        let dispatcher = try VCPUDispatcher(policy: WeightedFairPolicy(slice: 1_000 * ms), workers: 1)
        for vcpu in vcpus { try dispatcher.add(vcpu, parameters: SchedulingParameters()) }
        try dispatcher.start()
        defer { dispatcher.stop() }
        try waitUntil("a vCPU to run") { vcpus.contains { $0.slices.load(ordering: .relaxed) > 0 } }
        let running = try #require(vcpus.first { dispatcher.runState(of: $0.schedulingID) == .running })
        try dispatcher.setParameters(SchedulingParameters(weight: SchedulingWeight(3072)), for: running.schedulingID)
        #expect(running.preemptions.load(ordering: .relaxed) >= 1)
        let shares = Dictionary(
            uniqueKeysWithValues: dispatcher.report().vcpus.map { ($0.id, $0.entitledShare) })
        // One CPU divided 3072 : 1024.
        #expect(abs((shares[running.schedulingID] ?? 0) - 0.75) < 1e-9, "\(shares)")
        let unknown = VCPUID(7)
        #expect(throws: DispatcherError.scheduler(.unknownVCPU(unknown))) {
            try dispatcher.setParameters(SchedulingParameters(), for: unknown)
        }
        #expect(dispatcher.failure == nil)
    }
}

/// A `SCHED_FIFO` worker starts the gated vCPU threads it runs in the normal class: a spinning
/// guest on a FIFO thread would keep the same-priority workers from ever ending its slice (with
/// as many slots as host CPUs, the whole dispatcher stalled).
@Suite(
    "Real-time workers and their vCPU threads", .usesKVM,
    .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct RealTimeWorkerTests {
    @Test func vCPUThreadsOfAFIFOWorkerRunInTheNormalClass() throws {
        let machine = try CounterVM(id: VMID(0), vcpus: 1)
        defer { machine.stop() }
        let dispatcher = try VCPUDispatcher(
            policy: RoundRobinPolicy(timeSlice: 1 * ms), workers: 1, workerPriority: .realTimeFIFO(10))
        try dispatcher.add(machine.vcpus[0], parameters: SchedulingParameters())
        try dispatcher.start()
        defer { dispatcher.stop() }
        try waitUntil("the vCPU thread to start") { machine.vcpus[0].hostThreadID != nil }
        try whenAvailable(
            dispatcher.workersWithoutPriority == 0, "the SCHED_FIFO worker check",
            missing: "the kernel refused SCHED_FIFO (no CAP_SYS_NICE)"
        ) {
            let worker = try #require(dispatcher.workerThreadIDs.first ?? nil)
            let vcpu = try #require(machine.vcpus[0].hostThreadID)
            // The worker: SCHED_FIFO, with the reset-on-fork flag the kernel reports with it.
            #expect(sched_getscheduler(worker) & ~WorkerPriorityFlags.resetOnFork == SCHED_FIFO)
            #expect(sched_getscheduler(vcpu) == SCHED_OTHER)
        }
    }
}

/// `SCHED_RESET_ON_FORK` as `sched_getscheduler` reports it.
enum WorkerPriorityFlags {
    static let resetOnFork: Int32 = 0x4000_0000
}

/// Stopping gated KVM vCPUs from their owner's thread while dispatcher workers are inside their
/// slices (resuming or pausing them) ends every run: the stop wins over the worker's resume or
/// pause. Randomised moments over many rounds; a lost stop hangs and fails on the wait's bound.
@Suite(
    "Stopping gated vCPUs under a running dispatcher", .usesKVM,
    .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct GatedStopRaceTests {
    @Test func stopsDuringSlicesAlwaysEnd() throws {
        let kvm = try KVMSystem()
        var generator = SeededGenerator(seed: 23)
        for round in 0..<30 {
            let machine = try CounterVM(id: VMID(UInt32(round)), vcpus: 3, kvm: kvm)
            let dispatcher = try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: 200_000), workers: 2)
            for vcpu in machine.vcpus { try dispatcher.add(vcpu, parameters: SchedulingParameters()) }
            try dispatcher.start()
            usleep(UInt32.random(in: 500..<5_000, using: &generator))
            let done = Atomic<Int>(0)
            let stopper = try HostThread.spawn {
                for vcpu in machine.vcpus {
                    _ = vcpu.stop()
                    done.add(1, ordering: .relaxed)
                }
            }
            try waitUntil("round \(round): every vCPU's stop to return") { done.load(ordering: .relaxed) == 3 }
            stopper.join()
            dispatcher.stop()
            #expect(machine.vcpus.allSatisfy { $0.runner.state == .stopped }, "round \(round)")
            #expect(dispatcher.failure == nil, "round \(round)")
        }
    }
}
