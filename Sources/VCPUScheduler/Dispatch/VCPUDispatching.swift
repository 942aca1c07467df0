/// A ``VCPUDispatcher`` whatever its policy type: what a VMM holds when the scheduling policy is
/// chosen at run time (from a configuration file or a command-line flag).
///
/// ```swift
/// let policy: any SchedulingPolicy =
///     if fair { try WeightedFairPolicy(slice: 3_000_000) } else { try RoundRobinPolicy(timeSlice: 3_000_000) }
/// let dispatcher = try makeVCPUDispatcher(policy: policy, workers: 2)
/// try dispatcher.add(gatedVCPU, parameters: SchedulingParameters())
/// try dispatcher.start()
/// ```
public protocol VCPUDispatching: VCPUWakeSink {
    /// Registers a vCPU with its parameters; runnable at once unless `runnable` is false.
    func add(_ vcpu: any SchedulableVCPU, parameters: SchedulingParameters, runnable: Bool) throws(DispatcherError)
    /// Takes a vCPU out for good (a running slice preempted and waited for); its accounting so
    /// far, or `nil` for an unknown vCPU.
    @discardableResult
    func remove(_ vcpu: VCPUID) -> VCPUAccounting?
    /// Takes a vCPU off the run queue until ``resume(_:)``; it is parked on return.
    func suspend(_ vcpu: VCPUID) throws(DispatcherError)
    /// Puts a suspended vCPU back as it was (runnable, or blocked with no wake-up meanwhile).
    func resume(_ vcpu: VCPUID) throws(DispatcherError)
    /// Gives a vCPU new scheduling parameters.
    func setParameters(_ parameters: SchedulingParameters, for vcpu: VCPUID) throws(DispatcherError)
    /// Starts the worker threads.
    func start() throws(DispatcherError)
    /// Stops the workers and every running vCPU's slice, and joins the workers.
    func stop()
    /// The scheduling state of `vcpu`, or `nil` for an unknown one.
    func runState(of vcpu: VCPUID) -> VCPURunState?
    /// The first error the policy reported while the dispatcher ran, if any.
    var failure: SchedulerError? { get }
    /// Accounting so far: T_cpu, T_io and T_wait per vCPU and per VM, shares, fairness and
    /// latencies (see ``VCPUDispatcher/report()``).
    func report() -> SchedulingReport
    /// Kernel thread ids of the worker threads, by worker.
    var workerThreadIDs: [Int32?] { get }
    /// Workers whose requested host priority the kernel refused.
    var workersWithoutPriority: Int { get }
}

extension VCPUDispatching {
    /// Registers a runnable vCPU with its parameters.
    public func add(_ vcpu: any SchedulableVCPU, parameters: SchedulingParameters) throws(DispatcherError) {
        try add(vcpu, parameters: parameters, runnable: true)
    }
}

extension VCPUDispatcher: VCPUDispatching {}

/// A dispatcher for a policy known only at run time (the policy's type is opened here, so the
/// dispatcher still runs it without dynamic dispatch on the scheduling hot path).
///
/// The parameters are those of ``VCPUDispatcher/init(policy:workers:workerAffinity:workerPriority:recordsTrace:)``.
public func makeVCPUDispatcher(
    policy: any SchedulingPolicy, workers: Int, workerAffinity: [CPUAffinity] = [],
    workerPriority: WorkerPriority = .inherited, recordsTrace: Bool = false
) throws(DispatcherError) -> any VCPUDispatching {
    func make<Policy: SchedulingPolicy>(_ policy: Policy) throws(DispatcherError) -> any VCPUDispatching {
        try VCPUDispatcher(
            policy: policy, workers: workers, workerAffinity: workerAffinity, workerPriority: workerPriority,
            recordsTrace: recordsTrace)
    }
    return try make(policy)
}
