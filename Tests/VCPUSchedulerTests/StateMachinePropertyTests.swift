import HostSupport
import Testing

@testable import Scheduling
@testable import VCPUScheduler

/// Random valid operations against every policy, checked against a model of the state machine:
/// the policy never rejects a valid operation, only picks runnable vCPUs, agrees on every
/// state, and (when nothing holds vCPUs back) picks someone whenever someone is runnable.
@Suite("State machine property")
struct StateMachinePropertyTests {
    @Test("random operations keep every policy consistent with the model", arguments: [11, 12, 13] as [UInt64])
    func randomOperations(seed: UInt64) throws {
        for prototype in try allPolicies() {
            try exercise(prototype, seed: seed)
        }
    }

    private func exercise<P: SchedulingPolicy>(_ prototype: P, seed: UInt64) throws {
        var policy = prototype
        var rng = SplitMix64(seed: seed, stream: 5)
        var model: [VCPUID: VCPURunState] = [:]
        var running: [VCPUID] = []
        var nextIndex: UInt32 = 0
        var now: Nanoseconds = 0
        let holdsBack = policy is EarliestDeadlinePolicy || policy.name.hasSuffix("+ cap")
        for _ in 0..<3000 {
            now += UInt64.random(in: 0...500_000, using: &rng)
            let known = model.keys.sorted()
            switch UInt64.random(in: 0...9, using: &rng) {
            case 0 where model.count < 40:
                let id = VCPUID(vm: VMID(nextIndex % 3), index: nextIndex)
                nextIndex += 1
                let parameters = SchedulingParameters(
                    weight: .nice(Int(UInt64.random(in: 0...10, using: &rng)) - 5),
                    priority: Int(UInt64.random(in: 0...5, using: &rng)),
                    cap: UInt64.random(in: 0...3, using: &rng) == 0
                        ? try BandwidthCap(quota: 1 * ms, period: 4 * ms) : nil,
                    reservation: try RealTimeReservation(budget: 200_000, period: 10 * ms))
                try policy.add(id, parameters: parameters, at: now)
                model[id] = .blocked
            case 1, 2:
                guard let id = known.filter({ model[$0] == .blocked }).randomElement(using: &rng) else { continue }
                try policy.wake(id, at: now)
                model[id] = .runnable
            case 3:
                guard let id = known.filter({ model[$0] == .runnable }).randomElement(using: &rng) else { continue }
                try policy.block(id, at: now)
                model[id] = .blocked
            case 4:
                guard let id = known.filter({ model[$0] != .running }).randomElement(using: &rng) else { continue }
                try policy.remove(id, at: now)
                model[id] = nil
            case 5, 6:
                guard running.count < 4 else { continue }
                if let decision = policy.pickNext(at: now) {
                    #expect(model[decision.vcpu] == .runnable, "\(policy.name) picked \(decision.vcpu)")
                    #expect(decision.slice > 0)
                    model[decision.vcpu] = .running
                    running.append(decision.vcpu)
                } else if !holdsBack {
                    #expect(!model.values.contains(.runnable), "\(policy.name) idles with runnable vCPUs")
                }
            default:
                guard !running.isEmpty else { continue }
                let id = running.remove(at: Int(UInt64.random(in: 0...UInt64(running.count - 1), using: &rng)))
                let outcome: SliceOutcome = UInt64.random(in: 0...2, using: &rng) == 0 ? .blocked : .preempted
                try policy.account(id, ran: UInt64.random(in: 0...2 * ms, using: &rng), at: now, outcome: outcome)
                model[id] = outcome == .preempted ? .runnable : .blocked
            }
            for id in known where model[id] != nil {
                #expect(policy.state(of: id) == model[id], "\(policy.name) \(id)")
            }
        }
    }

    @Test("the fair policy's V is the weighted average of its runnable and running vCPUs")
    func fairAverage() throws {
        var policy = try WeightedFairPolicy(slice: 1 * ms)
        var rng = SplitMix64(seed: 4)
        var weights: [VCPUID: UInt64] = [:]
        var running: [VCPUID] = []
        var now: Nanoseconds = 0
        for i in 0..<12 {
            let id = VCPUID(UInt32(i))
            let weight = SchedulingWeight.nice(i - 6)
            weights[id] = UInt64(weight.value)
            try policy.add(id, parameters: SchedulingParameters(weight: weight), at: 0)
            if i % 3 != 0 { try policy.wake(id, at: 0) }
        }
        for _ in 0..<2000 {
            now += 100_000
            if running.count < 3, let d = policy.pickNext(at: now) {
                running.append(d.vcpu)
            } else if !running.isEmpty {
                let id = running.removeFirst()
                try policy.account(
                    id, ran: UInt64.random(in: 0...3 * ms, using: &rng), at: now,
                    outcome: UInt64.random(in: 0...3, using: &rng) == 0 ? .blocked : .preempted)
            }
            if let sleeper = weights.keys.sorted().first(where: { policy.state(of: $0) == .blocked }),
                UInt64.random(in: 0...2, using: &rng) == 0
            {
                try policy.wake(sleeper, at: now)
            }
            var sum: Int128 = 0, total: Int128 = 0
            for (id, w) in weights where policy.state(of: id) != .blocked {
                sum += Int128(w) * Int128(try #require(policy.virtualRuntime(of: id)))
                total += Int128(w)
            }
            if total > 0 { #expect(policy.averageVirtualRuntime == UInt64(sum / total)) }
        }
    }
}
