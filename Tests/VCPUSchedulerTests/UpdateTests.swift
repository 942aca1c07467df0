import Testing

@testable import Scheduling

/// New parameters for a vCPU (a resized share) and a vCPU forgotten by the core: for every
/// policy the change is all or nothing, the vCPU keeps its blocked or runnable state, and the
/// accounting of the others is untouched.
@Suite("Parameter updates and forgetting")
struct UpdateTests {
    @Test("update keeps the state, refuses a running or unknown vCPU, and leaves the policy as it was on error")
    func updateForEveryPolicy() throws {
        let reservation = try RealTimeReservation(budget: 1 * ms, period: 10 * ms)
        let old = SchedulingParameters(weight: SchedulingWeight(1024), reservation: reservation)
        let new = SchedulingParameters(weight: SchedulingWeight(4096), reservation: reservation)
        for var policy in try allPolicies() {
            let a = VCPUID(0), b = VCPUID(1), c = VCPUID(2)
            try policy.add(a, parameters: old, at: 0)
            try policy.add(b, parameters: old, at: 0)
            try policy.add(c, parameters: old, at: 0)
            try policy.wake(b, at: 0)
            try policy.wake(c, at: 0)
            let picked = policy.pickNext(at: 0)
            let running = try #require(picked).vcpu
            let runnable = running == b ? c : b
            try policy.update(a, parameters: new, at: 1)
            #expect(policy.state(of: a) == .blocked, "\(policy.name)")
            try policy.update(runnable, parameters: new, at: 1)
            #expect(policy.state(of: runnable) == .runnable, "\(policy.name)")
            #expect(throws: SchedulerError.invalidTransition(running, operation: "update", state: .running)) {
                try policy.update(running, parameters: new, at: 1)
            }
            #expect(throws: SchedulerError.unknownVCPU(VCPUID(9))) {
                try policy.update(VCPUID(9), parameters: new, at: 1)
            }
            // The updated vCPU is still scheduled: it runs once the running one yields.
            try policy.account(running, ran: 1 * ms, at: 1 * ms, outcome: .blocked)
            let next = policy.pickNext(at: 1 * ms)
            #expect(next?.vcpu == runnable, "\(policy.name)")
        }
        // A weight change moves the entitlement.
        var fair = try WeightedFairPolicy(slice: 1 * ms)
        try fair.add(VCPUID(0), parameters: SchedulingParameters(), at: 0)
        try fair.update(VCPUID(0), parameters: SchedulingParameters(weight: SchedulingWeight(3000)), at: 0)
        #expect(fair.entitlement(of: VCPUID(0))?.weight == 3000)
        // Parameters the policy cannot use (a real-time policy without a reservation): refused,
        // and the vCPU keeps its old reservation and state.
        var realTime = EarliestDeadlinePolicy()
        try realTime.add(VCPUID(0), parameters: old, at: 0)
        try realTime.wake(VCPUID(0), at: 0)
        let before = realTime.entitlement(of: VCPUID(0))
        #expect(throws: SchedulerError.self) {
            try realTime.update(VCPUID(0), parameters: SchedulingParameters(), at: 1)
        }
        #expect(realTime.state(of: VCPUID(0)) == .runnable)
        #expect(realTime.entitlement(of: VCPUID(0)) == before)
    }

    @Test("forget returns the vCPU's accounting and keeps every other vCPU's intact")
    func forget() throws {
        var core = SchedulerCore(policy: try RoundRobinPolicy(timeSlice: 1 * ms))
        let ids = (0..<4).map { VCPUID(UInt32($0)) }
        for id in ids {
            try core.add(id, parameters: SchedulingParameters(), at: 0)
            try core.wake(id, at: 0)
        }
        // Each vCPU runs once, for 1, 2, 3 and 4 ms.
        var now: Nanoseconds = 0
        for (i, _) in ids.enumerated() {
            let picked = try core.pickNext(at: now)
            let decision = try #require(picked)
            now += Nanoseconds(i + 1) * ms
            try core.finish(decision.vcpu, exitHandling: 0, outcome: .blocked, at: now)
        }
        let cpu = { (id: VCPUID) in core.accountant.accounting(of: id)?.cpuTime }
        let times = ids.map(cpu)
        #expect(times == [1 * ms, 2 * ms, 3 * ms, 4 * ms])
        // Forget the first (the last track moves into its place): the others keep theirs.
        let first = try core.forget(ids[0], at: now)
        #expect(first?.cpuTime == 1 * ms && first?.slices == 1)
        #expect(core.policy.state(of: ids[0]) == nil && core.accountant.accounting(of: ids[0]) == nil)
        #expect(ids.dropFirst().map(cpu) == Array(times.dropFirst()))
        #expect(core.accountant.vcpus == Array(ids.dropFirst()))
        #expect(try core.forget(ids[0], at: now) == nil)
        // The moved vCPU still accounts correctly.
        try core.wake(ids[3], at: now)
        let picked = try core.pickNext(at: now)
        let decision = try #require(picked)
        #expect(decision.vcpu == ids[3])
        try core.finish(ids[3], exitHandling: 0, outcome: .blocked, at: now + 5 * ms)
        #expect(cpu(ids[3]) == 9 * ms)
    }
}
