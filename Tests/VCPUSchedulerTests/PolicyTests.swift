import HostSupport
import Testing

@testable import Scheduling
@testable import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Policies and building blocks")
struct PolicyTests {
    @Test("state machine: illegal transitions are typed errors, for every policy")
    func transitions() throws {
        let reservation = try RealTimeReservation(budget: 1 * ms, period: 10 * ms)
        let parameters = SchedulingParameters(reservation: reservation)
        for var policy in try allPolicies() {
            let a = VCPUID(0), b = VCPUID(1)
            try policy.add(a, parameters: parameters, at: 0)
            #expect(throws: SchedulerError.duplicateVCPU(a)) { try policy.add(a, parameters: parameters, at: 0) }
            #expect(throws: SchedulerError.unknownVCPU(b)) { try policy.wake(b, at: 0) }
            #expect(throws: SchedulerError.invalidTransition(a, operation: "block", state: .blocked)) {
                try policy.block(a, at: 0)
            }
            #expect(throws: SchedulerError.invalidTransition(a, operation: "account", state: .blocked)) {
                try policy.account(a, ran: 1, at: 0, outcome: .preempted)
            }
            #expect(policy.pickNext(at: 0) == nil)
            try policy.wake(a, at: 0)
            #expect(policy.state(of: a) == .runnable)
            #expect(throws: SchedulerError.invalidTransition(a, operation: "wake", state: .runnable)) {
                try policy.wake(a, at: 0)
            }
            let picked = policy.pickNext(at: 0)
            let decision = try #require(picked, "\(policy.name)")
            #expect(decision.vcpu == a && decision.slice > 0)
            #expect(policy.state(of: a) == .running)
            #expect(throws: SchedulerError.invalidTransition(a, operation: "remove", state: .running)) {
                try policy.remove(a, at: 0)
            }
            try policy.account(a, ran: 100, at: 100, outcome: .blocked)
            #expect(policy.state(of: a) == .blocked)
            try policy.remove(a, at: 100)
            #expect(policy.state(of: a) == nil)
            #expect(policy.entitlement(of: a) == nil)
            // The freed slot is reused by the next vCPU without confusion.
            try policy.add(b, parameters: parameters, at: 200)
            try policy.wake(b, at: 200)
            #expect(policy.pickNext(at: 200)?.vcpu == b)
        }
    }

    @Test("blocking a queued vCPU takes it off the run queue")
    func blockQueued() throws {
        for var policy in try allPolicies() {
            let parameters = SchedulingParameters(reservation: try RealTimeReservation(budget: 1 * ms, period: 10 * ms))
            for i in 0..<3 { try policy.add(VCPUID(UInt32(i)), parameters: parameters, at: 0) }
            for i in 0..<3 { try policy.wake(VCPUID(UInt32(i)), at: 0) }
            try policy.block(VCPUID(1), at: 0)
            var picked: [VCPUID] = []
            while let d = policy.pickNext(at: 0) { picked.append(d.vcpu) }
            #expect(picked.sorted() == [VCPUID(0), VCPUID(2)], "\(policy.name)")
        }
    }

    @Test("parameters are validated")
    func validation() throws {
        #expect(throws: SchedulerError.invalidParameters("cap quota 0 ns per period 10 ns: both must be positive")) {
            try BandwidthCap(quota: 0, period: 10)
        }
        #expect(throws: SchedulerError.invalidParameters("cap quota 11 ns per period 0 ns: both must be positive")) {
            try BandwidthCap(quota: 11, period: 0)
        }
        #expect(
            throws: SchedulerError.invalidParameters(
                "reservation budget 5 ns per period 0 ns: need 0 < budget <= period")
        ) { try RealTimeReservation(budget: 5, period: 0) }
        #expect(throws: SchedulerError.invalidParameters("time slice must be positive")) {
            try RoundRobinPolicy(timeSlice: 0)
        }
        #expect(throws: SchedulerError.invalidParameters("slice 0 ns outside 1...1125899906842624")) {
            try WeightedFairPolicy(slice: 0)
        }
        #expect(throws: SchedulerError.invalidParameters("aging interval 0 ns outside 1...1099511627776")) {
            try PriorityAgingPolicy(timeSlice: 1, agingInterval: 0)
        }
        var priority = try PriorityAgingPolicy(timeSlice: 1, agingInterval: 1)
        #expect(throws: SchedulerError.invalidParameters("priority 5000 outside -1000...1000")) {
            try priority.add(VCPUID(0), parameters: SchedulingParameters(priority: 5000), at: 0)
        }
        #expect(SchedulingWeight(0).value == 1)
    }

    @Test("nice to weight follows Linux: nice 0 = 1024, about ×1.25 per step, clamped")
    func niceTable() {
        #expect(SchedulingWeight.nice(0).value == 1024)
        #expect(SchedulingWeight.nice(-20).value == 88761)
        #expect(SchedulingWeight.nice(19).value == 15)
        #expect(SchedulingWeight.nice(40) == SchedulingWeight.nice(19))
        for n in -20..<19 {
            let ratio = Double(SchedulingWeight.nice(n).value) / Double(SchedulingWeight.nice(n + 1).value)
            #expect(ratio > 1.15 && ratio < 1.35, "nice \(n)")
        }
    }

    @Test("the indexed heap matches a sorted model under random set/remove/pop")
    func indexedHeapModel() {
        var rng = SplitMix64(seed: 99)
        var heap = IndexedHeap<UInt64>()
        var model: [Int: UInt64] = [:]
        for _ in 0..<20_000 {
            let handle = Int(UInt64.random(in: 0...63, using: &rng))
            switch UInt64.random(in: 0...3, using: &rng) {
            case 0, 1:
                let key = UInt64.random(in: 0...50, using: &rng)
                heap.set(handle, key: key)
                model[handle] = key
            case 2:
                heap.remove(handle)
                model[handle] = nil
            default:
                let expected = model.min { ($0.value, $0.key) < ($1.value, $1.key) }
                let popped = heap.popMin()
                #expect(popped?.handle == expected?.key && popped?.key == expected?.value)
                if let expected { model[expected.key] = nil }
            }
            #expect(heap.count == model.count)
        }
    }

    @Test("water-filling entitlements and Jain's index")
    func fairShare() throws {
        let shares = FairShare.entitledShares(capacity: 2, claims: [(1, 1), (2, 1), (4, 1)])
        #expect(abs(shares[0] - 1.0 / 3) < 1e-12 && abs(shares[1] - 2.0 / 3) < 1e-12 && shares[2] == 1)
        let capped = FairShare.entitledShares(capacity: 1, claims: [(1, 0.1), (1, 1), (1, 1), (0, 1)])
        #expect(capped[0] == 0.1 && abs(capped[1] - 0.45) < 1e-12 && capped[3] == 0)
        #expect(FairShare.jainIndex(actual: [1, 2, 4], entitled: [1, 2, 4]) == 1)
        // One of four gets everything: the index is 1/n.
        #expect(FairShare.jainIndex(actual: [1, 0, 0, 0], entitled: [0.25, 0.25, 0.25, 0.25]) == 0.25)
        #expect(FairShare.jainIndex(actual: [1], entitled: [0]) == nil)
    }

    @Test("nearest-rank percentiles")
    func percentiles() {
        var samples = LatencySamples()
        #expect(samples.percentile(50) == nil)
        for v in (1...100).reversed() { samples.append(UInt64(v)) }
        #expect(samples.percentiles([0, 50, 90, 99, 100]) == [1, 50, 90, 99, 100])
        #expect(samples.maximum == 100)
    }

    @Test("EEVDF-style placement: a vCPU that slept is not owed more than its bounded lag")
    func fairWakePlacement() throws {
        var policy = try WeightedFairPolicy(slice: 1 * ms)
        let (sleeper, spinner) = (VCPUID(0), VCPUID(1))
        try policy.add(sleeper, parameters: SchedulingParameters(), at: 0)
        try policy.add(spinner, parameters: SchedulingParameters(), at: 0)
        try policy.wake(spinner, at: 0)
        var now: Nanoseconds = 0
        for _ in 0..<1000 {
            let picked = policy.pickNext(at: now)
            let d = try #require(picked)
            now += d.slice
            try policy.account(d.vcpu, ran: d.slice, at: now, outcome: .preempted)
        }
        try policy.wake(sleeper, at: now)
        // The sleeper runs first but then alternates: it does not get 1000 slices in a row.
        var run = 0
        while policy.pickNext(at: now)?.vcpu == sleeper {
            run += 1
            now += 1 * ms
            try policy.account(sleeper, ran: 1 * ms, at: now, outcome: .preempted)
        }
        #expect(run >= 1 && run <= 3)
    }

    @Test("schedstat: the parser")
    func schedstatParser() throws {
        #expect(
            try ThreadSchedStat.parse("123 456 7\n") == ThreadSchedStat(onCPU: 123, runQueueWait: 456, timeslices: 7))
        #expect(throws: ThreadSchedStat.ReadError.self) { try ThreadSchedStat.parse("1 2\n") }
        #expect(throws: ThreadSchedStat.ReadError.self) { try ThreadSchedStat.parse("a b c\n") }
        #expect(throws: ThreadSchedStat.ReadError.self) { try ThreadSchedStat.parse("1 2 -3\n") }
        #expect(throws: ThreadSchedStat.ReadError.self) { try ThreadSchedStat.read(threadID: -1) }
    }

    @Test(
        "schedstat: the current thread's figures grow while it burns CPU",
        .enabled(
            if: access("/proc/thread-self/schedstat", R_OK) == 0,
            "no /proc/thread-self/schedstat (CONFIG_SCHED_INFO off?)"))
    func schedstat() throws {

        let tid = HostThread.currentKernelID
        let before = try ThreadSchedStat.current()
        // Burn CPU until the kernel has charged this thread more on-CPU time.
        var after = before
        var x: UInt64 = 1
        for _ in 0..<10_000 where after.onCPU == before.onCPU {
            for i in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ UInt64(i) }
            after = try ThreadSchedStat.current()
        }
        #expect(x != 0)
        #expect(after.onCPU > before.onCPU)
        #expect(after.runQueueWait >= before.runQueueWait)
        #expect(after.timeslices >= before.timeslices && after.timeslices > 0)
        let byID = try ThreadSchedStat.read(threadID: tid)
        #expect(byID.onCPU >= after.onCPU)
    }
}

@Suite("Bandwidth caps, step by step")
struct CapStepTests {
    @Test("slice cut to the quota, throttled until the period ends, then runnable again")
    func throttleCycle() throws {
        var policy = BandwidthCapped(try RoundRobinPolicy(timeSlice: 10 * ms))
        let id = VCPUID(0)
        try policy.add(
            id, parameters: SchedulingParameters(cap: try BandwidthCap(quota: 3 * ms, period: 10 * ms)), at: 0)
        try policy.wake(id, at: 0)
        let first = policy.pickNext(at: 0)
        #expect(first == SchedulingDecision(vcpu: id, slice: 3 * ms))
        try policy.account(id, ran: 3 * ms, at: 3 * ms, outcome: .preempted)
        #expect(policy.isThrottled(id))
        #expect(policy.state(of: id) == .runnable)  // the caller still sees it runnable
        #expect(policy.pickNext(at: 5 * ms) == nil)
        #expect(policy.nextEventTime(after: 5 * ms) == 10 * ms)
        #expect(policy.pickNext(at: 10 * ms)?.vcpu == id)
        #expect(policy.throttleCount(of: id) == 1)
    }

    @Test("a vCPU blocked while throttled stays blocked at the new period; removal while throttled is clean")
    func blockAndRemoveWhileThrottled() throws {
        var policy = BandwidthCapped(try WeightedFairPolicy(slice: 10 * ms))
        let (a, b) = (VCPUID(0), VCPUID(1))
        let cap = try BandwidthCap(quota: 2 * ms, period: 10 * ms)
        try policy.add(a, parameters: SchedulingParameters(cap: cap), at: 0)
        try policy.add(b, parameters: SchedulingParameters(cap: cap), at: 0)
        try policy.wake(a, at: 0)
        try policy.wake(b, at: 0)
        for _ in 0..<2 {
            let picked = policy.pickNext(at: 0)
            let d = try #require(picked)
            try policy.account(d.vcpu, ran: d.slice, at: 2 * ms, outcome: .preempted)
        }
        #expect(policy.isThrottled(a) && policy.isThrottled(b))
        try policy.block(a, at: 4 * ms)
        try policy.remove(b, at: 4 * ms)
        #expect(policy.pickNext(at: 10 * ms) == nil)
        #expect(policy.state(of: a) == .blocked && policy.state(of: b) == nil)
        try policy.wake(a, at: 11 * ms)
        #expect(policy.pickNext(at: 11 * ms)?.vcpu == a)
    }

    @Test("a VM cap reserves quota for its running vCPUs and gives unused quota back")
    func vmCapReservation() throws {
        var policy = BandwidthCapped(
            try RoundRobinPolicy(timeSlice: 10 * ms),
            vmCaps: [VMID(0): try BandwidthCap(quota: 6 * ms, period: 10 * ms)])
        let ids = (0..<3).map { VCPUID(UInt32($0)) }
        for id in ids {
            try policy.add(id, parameters: SchedulingParameters(), at: 0)
            try policy.wake(id, at: 0)
        }
        // Two CPUs: the first vCPU gets all 6 ms, nothing is left for a second one.
        let picked = policy.pickNext(at: 0)
        let first = try #require(picked)
        #expect(first.slice == 6 * ms)
        #expect(policy.pickNext(at: 0) == nil)
        #expect(policy.throttleCount(ofVM: VMID(0)) == 1)
        // It halts after 1 ms: 5 ms come back and the other vCPUs may run in this period.
        try policy.account(first.vcpu, ran: 1 * ms, at: 1 * ms, outcome: .blocked)
        let next = policy.pickNext(at: 1 * ms)
        let second = try #require(next)
        #expect(second.slice == 5 * ms && second.vcpu != first.vcpu)
    }
}
