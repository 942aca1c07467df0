import VCPUScheduler

/// How a ``VMManager`` schedules the vCPUs of all its VMs together: one dispatcher with `slots`
/// worker threads under `policy`; each VM's vCPUs take part with the parameters of its
/// configuration's ``SchedulingConfiguration`` (weight, priority, cap, real-time budget), which
/// ``VMManager/setScheduling(_:for:)`` changes while the VM runs.
///
/// ```swift
/// let manager = try VMManager(
///     host: host, scheduling: VMManagerScheduling(policy: try WeightedFairPolicy(slice: 2_000_000), slots: 2))
/// ```
///
/// At most `slots` vCPUs of all the VMs are in their guests at once; the others wait their turn
/// (their T_wait). A VM with a device that blocks the vCPU thread for long holds its slot as
/// long.
public struct VMManagerScheduling: Sendable {
    /// The policy deciding which vCPU runs next and for how long.
    public var policy: any SchedulingPolicy
    /// Worker threads: how many vCPUs run at once.
    public var slots: Int
    /// Per worker, the host CPUs it and the vCPU threads it runs are pinned to (empty: none).
    public var workerAffinity: [CPUAffinity]
    /// The host scheduling class of the workers.
    public var workerPriority: WorkerPriority

    /// Shared scheduling with `policy` on `slots` workers.
    public init(
        policy: any SchedulingPolicy, slots: Int, workerAffinity: [CPUAffinity] = [],
        workerPriority: WorkerPriority = .inherited
    ) {
        self.policy = policy
        self.slots = slots
        self.workerAffinity = workerAffinity
        self.workerPriority = workerPriority
    }
}
