import ArgumentParser
import VCPUScheduler

/// `--policy`: which `VCPUScheduler` policy runs the vCPUs (through a `VCPUDispatcher` on
/// `--slots` run tokens) instead of one free-running thread per vCPU.
enum PolicyChoice: String, CaseIterable, ExpressibleByArgument {
    /// `RoundRobinPolicy`: every vCPU one slice in turn.
    case roundRobin = "round-robin"
    /// `PriorityAgingPolicy`: vCPU 0 (the disk driver) has priority 1, the workers 0; waiting
    /// raises a vCPU one level per slice length.
    case priority
    /// `WeightedFairPolicy`: vCPU 0 has twice a worker's weight.
    case fair
    /// `BandwidthCapped(WeightedFairPolicy)`: as `fair`, and every worker is capped at 25 % of
    /// one CPU (2.5 ms per 10 ms).
    case capped
    /// `EarliestDeadlinePolicy`: every vCPU reserves an equal part of the slots every 10 ms
    /// (budget 10 ms × slots / vCPUs).
    case rt

    /// Period of the worker caps (`capped`) and of the reservations (`rt`).
    static let period: Nanoseconds = 10_000_000

    /// What the scheduler is told about vCPU `index` of `count` sharing `slots` slots.
    func parameters(vcpu index: Int, of count: Int, slots: Int) throws(SchedulerError) -> SchedulingParameters {
        let driver = index == 0
        switch self {
        case .roundRobin:
            return SchedulingParameters()
        case .priority:
            return SchedulingParameters(priority: driver ? 1 : 0)
        case .fair:
            return SchedulingParameters(weight: SchedulingWeight(driver ? 2048 : 1024))
        case .capped:
            return SchedulingParameters(
                weight: SchedulingWeight(driver ? 2048 : 1024),
                cap: driver ? nil : try BandwidthCap(quota: Self.period / 4, period: Self.period))
        case .rt:
            let budget = Self.period * UInt64(min(slots, count)) / UInt64(max(1, count))
            return SchedulingParameters(reservation: try RealTimeReservation(budget: budget, period: Self.period))
        }
    }

    /// This policy (time slice `slice`), as the dispatcher takes it.
    func makePolicy(slice: Nanoseconds) throws -> any SchedulingPolicy {
        switch self {
        case .roundRobin: try RoundRobinPolicy(timeSlice: slice)
        case .priority: try PriorityAgingPolicy(timeSlice: slice, agingInterval: slice)
        case .fair: try WeightedFairPolicy(slice: slice)
        case .capped: BandwidthCapped(try WeightedFairPolicy(slice: slice))
        case .rt: EarliestDeadlinePolicy()
        }
    }
}

/// How the vCPUs of a run are scheduled when `--policy` is given.
struct Scheduling {
    let policy: PolicyChoice
    let dispatcher: any VCPUDispatching
    /// Parameters of each vCPU, by index.
    let parameters: [SchedulingParameters]

    init(policy: PolicyChoice, slots: Int, slice: Nanoseconds, vcpuCount: Int) throws {
        self.policy = policy
        dispatcher = try makeVCPUDispatcher(policy: policy.makePolicy(slice: slice), workers: slots)
        parameters = try (0..<vcpuCount).map { index throws(SchedulerError) in
            try policy.parameters(vcpu: index, of: vcpuCount, slots: slots)
        }
    }

    /// Registers the gated vCPUs (all runnable) and starts the dispatcher's workers.
    func start(_ vcpus: [any SchedulableVCPU]) throws(DispatcherError) {
        for (vcpu, parameters) in zip(vcpus, parameters) {
            try dispatcher.add(vcpu, parameters: parameters, runnable: true)
        }
        try dispatcher.start()
    }
}
