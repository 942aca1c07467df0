import HostSupport
import Synchronization
import TestSupport
import Testing
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

/// How many of a group of ``SleepingVCPU``s run at once, and the most that ever did. One per
/// test: suites that run in parallel have vCPUs of their own.
final class Occupancy: Sendable {
    let concurrent = Atomic<Int>(0)
    let maximum = Atomic<Int>(0)
    init() {}
}

/// A vCPU that "runs" by sleeping through its slice (or until preempted) and counts how many
/// of its group (`occupancy`) run at once.
final class SleepingVCPU: SchedulableVCPU, @unchecked Sendable {
    let occupancy: Occupancy
    let schedulingID: VCPUID
    let preempted = Atomic<Bool>(false)
    let slices = Atomic<Int>(0)

    /// The longest a slice sleeps.
    let longest: Nanoseconds
    let preemptions = Atomic<Int>(0)

    init(_ id: VCPUID, longest: Nanoseconds = 1_000_000, occupancy: Occupancy = Occupancy()) {
        schedulingID = id
        self.longest = longest
        self.occupancy = occupancy
    }

    func runSlice(_ slice: Nanoseconds) -> SliceReport {
        let now = occupancy.concurrent.add(1, ordering: .sequentiallyConsistent).newValue
        _ = occupancy.maximum.max(now, ordering: .sequentiallyConsistent)
        slices.add(1, ordering: .relaxed)
        let end = monotonicNanoseconds() + min(slice, longest)
        while monotonicNanoseconds() < end, !preempted.load(ordering: .relaxed) { usleep(100) }
        let wasPreempted = preempted.exchange(false, ordering: .relaxed)
        occupancy.concurrent.subtract(1, ordering: .sequentiallyConsistent)
        return SliceReport(guestTime: slice, exitHandling: 0, end: wasPreempted ? .preempted : .sliceExpired)
    }

    func preempt() {
        preemptions.add(1, ordering: .relaxed)
        preempted.store(true, ordering: .relaxed)
    }
}

/// Records the affinity of the thread its slices run on.
final class AffinityProbe: SchedulableVCPU, @unchecked Sendable {
    let schedulingID: VCPUID
    let seen = Mutex<[CPUAffinity]>([])
    init(_ id: VCPUID) { schedulingID = id }
    func runSlice(_ slice: Nanoseconds) -> SliceReport {
        if let affinity = try? CPUAffinity.currentThread() { seen.withLock { $0.append(affinity) } }
        usleep(500)
        return SliceReport(guestTime: 500_000, exitHandling: 0, end: .sliceExpired)
    }
    func preempt() {}
}

@Suite("Dispatcher without KVM", .serialized)
struct DispatcherTests {
    @Test("five vCPUs on two workers: never more than two run at once, all of them run")
    func slotsBoundConcurrency() throws {
        let occupancy = Occupancy()
        let vcpus = (0..<5).map { SleepingVCPU(VCPUID(UInt32($0)), occupancy: occupancy) }
        let dispatcher = try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: 1 * ms), workers: 2)
        for vcpu in vcpus { try dispatcher.add(vcpu, parameters: SchedulingParameters()) }
        try dispatcher.start()
        usleep(100_000)
        dispatcher.stop()
        #expect(occupancy.maximum.load(ordering: .sequentiallyConsistent) <= 2)
        #expect(vcpus.allSatisfy { $0.slices.load(ordering: .relaxed) > 0 })
        let report = dispatcher.report()
        #expect(report.cpus == 2 && report.vcpus.count == 5)
        #expect(report.vcpus.allSatisfy { $0.accounting.slices > 0 })
        #expect(dispatcher.failure == nil)
    }

    @Test("configuration errors are typed")
    func configuration() throws {
        #expect(throws: DispatcherError.invalidConfiguration("a dispatcher needs at least one worker")) {
            try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: ms), workers: 0)
        }
        let affinity = try CPUAffinity(cpus: [0])
        #expect(throws: DispatcherError.invalidConfiguration("1 affinities for 2 workers")) {
            try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: ms), workers: 2, workerAffinity: [affinity])
        }
        let dispatcher = try VCPUDispatcher(policy: RoundRobinPolicy(timeSlice: ms), workers: 1)
        try dispatcher.add(SleepingVCPU(VCPUID(0)), parameters: SchedulingParameters())
        #expect(throws: DispatcherError.scheduler(.duplicateVCPU(VCPUID(0)))) {
            try dispatcher.add(SleepingVCPU(VCPUID(0)), parameters: SchedulingParameters())
        }
        try dispatcher.start()
        #expect(throws: DispatcherError.invalidConfiguration("the dispatcher was already started")) {
            try dispatcher.start()
        }
        dispatcher.stop()
        dispatcher.stop()
    }

    @Test("waking a higher-priority vCPU preempts the running one when every slot is busy")
    func wakePreempts() throws {
        let low = SleepingVCPU(VCPUID(0), longest: 10_000 * ms), high = SleepingVCPU(VCPUID(1), longest: 10_000 * ms)
        let dispatcher = try VCPUDispatcher(
            policy: PriorityAgingPolicy(timeSlice: 10_000 * ms, agingInterval: 1 * ms), workers: 1)
        try dispatcher.add(low, parameters: SchedulingParameters(priority: 0))
        try dispatcher.add(high, parameters: SchedulingParameters(priority: 5), runnable: false)
        try dispatcher.start()
        try waitUntil("low's first slice") { low.slices.load(ordering: .relaxed) > 0 }
        dispatcher.wake(high.schedulingID)
        try waitUntil("high's first slice") { high.slices.load(ordering: .relaxed) > 0 }
        dispatcher.stop()
        #expect(low.preemptions.load(ordering: .relaxed) >= 1)
        #expect(dispatcher.report().row(low.schedulingID)?.accounting.preemptions ?? 0 >= 1)
    }

    @Test("a worker priority the kernel accepts is applied (nice 5 needs no privilege)")
    func workerNice() throws {
        let vcpu = SleepingVCPU(VCPUID(0))
        let dispatcher = try VCPUDispatcher(
            policy: RoundRobinPolicy(timeSlice: 1 * ms), workers: 1, workerPriority: .nice(5))
        try dispatcher.add(vcpu, parameters: SchedulingParameters())
        try dispatcher.start()
        try waitUntil("vcpu's first slice") { vcpu.slices.load(ordering: .relaxed) > 0 }
        let tid = try #require(dispatcher.workerThreadIDs.first ?? nil)
        errno = 0
        let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid))
        dispatcher.stop()
        #expect(dispatcher.workersWithoutPriority == 0)
        #expect(nice == 5 && errno == 0)
    }

    @Test("a pinned worker runs its slices on its CPUs")
    func pinnedWorker() throws {
        let allowed = try CPUAffinity.currentThread()
        let pin = try CPUAffinity(cpus: [allowed.cpus[0]])
        let vcpu = AffinityProbe(VCPUID(0))
        let dispatcher = try VCPUDispatcher(
            policy: RoundRobinPolicy(timeSlice: 1 * ms), workers: 1, workerAffinity: [pin])
        try dispatcher.add(vcpu, parameters: SchedulingParameters())
        try dispatcher.start()
        usleep(20_000)
        dispatcher.stop()
        let seen = vcpu.seen.withLock { $0 }
        #expect(!seen.isEmpty && seen.allSatisfy { $0 == pin })
    }

    @Test("a wake-up for a blocked vCPU makes it runnable; unknown vCPUs are ignored")
    func wakeUps() throws {
        let vcpu = SleepingVCPU(VCPUID(7))
        let dispatcher = try VCPUDispatcher(policy: WeightedFairPolicy(slice: 1 * ms), workers: 1)
        try dispatcher.add(vcpu, parameters: SchedulingParameters(), runnable: false)
        #expect(dispatcher.runState(of: vcpu.schedulingID) == .blocked)
        try dispatcher.start()
        usleep(20_000)
        #expect(vcpu.slices.load(ordering: .relaxed) == 0)
        dispatcher.wake(VCPUID(99))
        dispatcher.wake(vcpu.schedulingID)
        usleep(20_000)
        dispatcher.stop()
        #expect(vcpu.slices.load(ordering: .relaxed) > 0)
        #expect(dispatcher.report().row(vcpu.schedulingID)?.accounting.wakeups == 1)
    }
}

@Suite("Caps on overrunning slices")
struct CapOverrunTests {
    func cappedVCPU() throws -> BandwidthCapped<RoundRobinPolicy> {
        var policy = BandwidthCapped(try RoundRobinPolicy(timeSlice: 10 * ms))
        try policy.add(
            VCPUID(0), parameters: SchedulingParameters(cap: try BandwidthCap(quota: 3 * ms, period: 10 * ms)), at: 0)
        try policy.wake(VCPUID(0), at: 0)
        return policy
    }

    @Test("time used beyond the quota is owed to the next period")
    func overrunIsOwed() throws {
        var policy = try cappedVCPU()
        let first = policy.pickNext(at: 0)
        #expect(first?.slice == 3 * ms)
        // A real vCPU overran its slice by 2 ms.
        try policy.account(VCPUID(0), ran: 5 * ms, at: 5 * ms, outcome: .preempted)
        let throttled = policy.pickNext(at: 6 * ms)
        #expect(throttled == nil)
        // Next period: 3 ms of quota minus the 2 ms owed.
        let second = policy.pickNext(at: 10 * ms)
        #expect(second?.slice == 1 * ms)
        try policy.account(VCPUID(0), ran: 1 * ms, at: 11 * ms, outcome: .preempted)
        let stillThrottled = policy.pickNext(at: 15 * ms)
        #expect(stillThrottled == nil)
        // The period after that has its full quota again.
        let third = policy.pickNext(at: 20 * ms)
        #expect(third?.slice == 3 * ms)
    }

    @Test("the part of a slice before a period boundary counts against the earlier period")
    func boundary() throws {
        var policy = try cappedVCPU()
        _ = policy.pickNext(at: 0)
        try policy.account(VCPUID(0), ran: 2 * ms, at: 2 * ms, outcome: .preempted)
        // 1 ms left in period 0; the vCPU runs 8–11 ms, 2 ms of it in period 0: 1 ms over.
        let late = policy.pickNext(at: 8 * ms)
        #expect(late?.slice == 1 * ms)
        try policy.account(VCPUID(0), ran: 3 * ms, at: 11 * ms, outcome: .preempted)
        // Period 1: 1 ms owed + 1 ms used: 1 ms left.
        let next = policy.pickNext(at: 11 * ms)
        #expect(next?.slice == 1 * ms)
    }
}
