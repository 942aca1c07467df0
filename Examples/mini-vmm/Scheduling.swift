import ArgumentParser
import Machine
import Scheduling
import VCPUScheduler

/// `--policy`: which `VCPUScheduler` policy the VM manager's one dispatcher runs the vCPUs of
/// every VM with (on `--slots` run tokens), instead of one free-running thread per vCPU.
///
/// The manager gives each VM one share — all its vCPUs run with the same parameters — so the
/// policies tell VMs apart, not vCPUs: VM 1 takes the part vCPU 0 (the disk driver) had when
/// mini-vmm scheduled single vCPUs.
enum PolicyChoice: String, CaseIterable, ExpressibleByArgument {
    /// `RoundRobinPolicy`: every vCPU one slice in turn.
    case roundRobin = "round-robin"
    /// `PriorityAgingPolicy`: VM 1 has priority 1, the other VMs 0; waiting raises a vCPU one
    /// level per slice length.
    case priority
    /// `WeightedFairPolicy`: VM 1 has twice the weight of each other VM.
    case fair
    /// `BandwidthCapped(WeightedFairPolicy)`: the weights of `fair`, and every vCPU capped at
    /// 25 % of one CPU (2.5 ms per 10 ms).
    case capped
    /// `EarliestDeadlinePolicy`: every vCPU of every VM reserves an equal part of the slots every
    /// 10 ms (budget 10 ms × slots / all vCPUs).
    case rt

    /// Period of the caps (`capped`) and of the reservations (`rt`).
    static let period: Nanoseconds = 10_000_000

    /// The share of VM `index` (from 0) when `vcpus` vCPUs in all share `slots` slots.
    func share(vm index: Int, vcpus: Int, slots: Int) -> SchedulingConfiguration {
        let first = index == 0
        switch self {
        case .roundRobin:
            return SchedulingConfiguration()
        case .priority:
            return SchedulingConfiguration(priority: first ? 1 : 0)
        case .fair:
            return SchedulingConfiguration(weight: first ? 2048 : 1024)
        case .capped:
            return SchedulingConfiguration(
                weight: first ? 2048 : 1024, capQuotaNanoseconds: Self.period / 4, capPeriodNanoseconds: Self.period)
        case .rt:
            let budget = Self.period * UInt64(min(slots, vcpus)) / UInt64(max(1, vcpus))
            return SchedulingConfiguration(
                realTimeBudgetNanoseconds: max(1, budget), realTimePeriodNanoseconds: Self.period)
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
