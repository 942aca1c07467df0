import Testing

@testable import Scheduling
@testable import VCPUScheduler

/// A stand-in for the VCPU target's runner: "runs" by advancing a shared virtual clock
/// through a script of slice reports.
final class ScriptedVCPU: SchedulableVCPU, @unchecked Sendable {
    let schedulingID: VCPUID
    private var script: [SliceReport]
    private(set) var preempted = 0
    private(set) var slicesGranted: [Nanoseconds] = []

    init(_ id: VCPUID, script: [SliceReport]) {
        schedulingID = id
        self.script = script
    }

    func runSlice(_ slice: Nanoseconds) -> SliceReport {
        slicesGranted.append(slice)
        return script.isEmpty ? SliceReport(guestTime: 0, exitHandling: 0, end: .stopped) : script.removeFirst()
    }

    func preempt() { preempted += 1 }
}

@Suite("Dispatcher seam")
struct SeamTests {
    @Test("a single-CPU loop over SchedulerCore and SchedulableVCPU accounts what the vCPUs report")
    func drivenThroughTheSeam() throws {
        let a = ScriptedVCPU(
            VCPUID(0),
            script: [
                SliceReport(guestTime: 2 * ms, exitHandling: 1 * ms, end: .sliceExpired),
                SliceReport(guestTime: 1 * ms, exitHandling: 0, end: .halted),
            ])
        let b = ScriptedVCPU(VCPUID(1), script: [SliceReport(guestTime: 3 * ms, exitHandling: 0, end: .sliceExpired)])
        let vcpus = [a.schedulingID: a, b.schedulingID: b]
        var core = SchedulerCore(policy: try RoundRobinPolicy(timeSlice: 3 * ms))
        var now: Nanoseconds = 0
        for vcpu in [a, b] {
            try core.add(vcpu.schedulingID, parameters: SchedulingParameters(), at: now)
            try core.wake(vcpu.schedulingID, at: now)
        }
        while let decision = try core.pickNext(at: now) {
            let vcpu = try #require(vcpus[decision.vcpu])
            let report = vcpu.runSlice(decision.slice)
            now += report.guestTime + report.exitHandling
            try core.finish(
                decision.vcpu, exitHandling: report.exitHandling, outcome: report.end.outcome ?? .blocked, at: now)
            if report.end.outcome == nil { try core.remove(decision.vcpu, at: now) }
        }
        core.settle(at: now)
        let accountA = try #require(core.accountant.accounting(of: a.schedulingID))
        #expect(accountA.cpuTime == 3 * ms && accountA.ioTime == 1 * ms)
        #expect(accountA.slices == 2 && accountA.preemptions == 1)
        #expect(accountA.waitTime == 3 * ms)  // behind b's 3 ms slice
        let accountB = try #require(core.accountant.accounting(of: b.schedulingID))
        #expect(accountB.cpuTime == 3 * ms && accountB.slices == 2)  // the second run reports `stopped`
        #expect(core.policy.state(of: b.schedulingID) == nil)
        #expect(core.policy.state(of: a.schedulingID) == .blocked)
        #expect(a.slicesGranted == [3 * ms, 3 * ms])

        let report = SchedulingReport(cpus: 1, duration: now, vcpus: [a.schedulingID, b.schedulingID], core: core)
        #expect(report.vcpus.count == 2)
        #expect(report.latencies.count == 4)
    }

    @Test("slice ends map onto policy outcomes")
    func outcomes() {
        #expect(SliceEnd.sliceExpired.outcome == .preempted)
        #expect(SliceEnd.preempted.outcome == .preempted)
        #expect(SliceEnd.halted.outcome == .blocked)
        #expect(SliceEnd.waitingForIO.outcome == .blocked)
        #expect(SliceEnd.stopped.outcome == nil && SliceEnd.failed.outcome == nil)
    }

    @Test("removing a queued vCPU through the core closes its wait in the accounting")
    func removeQueued() throws {
        var core = SchedulerCore(policy: try WeightedFairPolicy(slice: 1 * ms))
        try core.add(VCPUID(0), parameters: SchedulingParameters(), at: 0)
        try core.wake(VCPUID(0), at: 0)
        try core.remove(VCPUID(0), at: 5 * ms)
        core.settle(at: 10 * ms)
        let record = try #require(core.accountant.accounting(of: VCPUID(0)))
        #expect(record.waitTime == 5 * ms && record.blockedTime == 5 * ms)
        #expect(try core.pickNext(at: 10 * ms) == nil)
    }
}

@Suite("Dispatcher seam: clocks")
struct SeamClockTests {
    @Test("times that arrive out of order are made monotonic, never wrap")
    func outOfOrderTimes() throws {
        var core = SchedulerCore(policy: try RoundRobinPolicy(timeSlice: 1 * ms))
        try core.add(VCPUID(0), parameters: SchedulingParameters(), at: 10 * ms)
        try core.wake(VCPUID(0), at: 10 * ms)
        _ = try core.pickNext(at: 12 * ms)
        // A worker read the clock at 11 ms, before the pick, but got the lock after it.
        try core.finish(VCPUID(0), exitHandling: 0, outcome: .blocked, at: 11 * ms)
        core.settle(at: 12 * ms)
        let record = try #require(core.accountant.accounting(of: VCPUID(0)))
        #expect(record.cpuTime == 0 && record.waitTime == 2 * ms)
        #expect(core.now == 12 * ms)
    }
}
