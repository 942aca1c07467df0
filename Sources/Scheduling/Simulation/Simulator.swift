/// A deterministic discrete-event simulator: runs a ``SchedulingPolicy`` over a synthetic
/// workload on `cpus` virtual CPUs with a virtual clock, and reports the same accounting a
/// real dispatcher produces.
///
/// Nothing in a run depends on the wall clock, on hashing order or on threads: the same
/// policy value, workload, seed and configuration give the same schedule, byte for byte.
/// (Policies are value types; a run works on its own copy, so one policy value can be run
/// many times. A class-based policy would carry its state from run to run.)
///
/// The dispatcher it models: a free CPU asks ``SchedulingPolicy/pickNext(at:)``; a vCPU runs
/// its phases until its slice ends, its next phase blocks, or the policy preempts it after a
/// wake-up or at the policy's ``SchedulingPolicy/nextEventTime(after:)``; each run is reported
/// with ``SchedulingPolicy/account(_:ran:at:outcome:)``. Events at the same time are handled
/// in a fixed order: CPUs by index, then vCPU wake-ups in workload order, then the policy's
/// timer; then free CPUs pick in index order and preemption is checked in index order.
public struct Simulator: Sendable {
    /// Number of virtual CPUs (host worker threads being modelled).
    public let cpus: Int
    /// Length of the simulated run.
    public let duration: Nanoseconds
    /// Seed of the workloads' random phases.
    public let seed: UInt64
    /// Whether to keep every slice in ``SchedulingReport/trace``.
    public let recordsTrace: Bool

    /// Throws when `cpus` is not positive or `duration` is zero.
    public init(cpus: Int, duration: Nanoseconds, seed: UInt64 = 0, recordsTrace: Bool = false)
        throws(SchedulerError)
    {
        guard cpus > 0 else { throw .invalidParameters("simulator needs at least one CPU") }
        guard duration > 0 else { throw .invalidParameters("simulation duration must be positive") }
        self.cpus = cpus
        self.duration = duration
        self.seed = seed
        self.recordsTrace = recordsTrace
    }

    /// Runs `policy` (a copy of it) over `workload` and reports what happened.
    public func run<Policy: SchedulingPolicy>(
        _ policy: Policy, workload: [SimulatedVCPU]
    ) throws(SchedulerError) -> SchedulingReport {
        var run = try SimulationRun(simulator: self, policy: policy, workload: workload)
        try run.execute()
        return run.report()
    }
}

/// The mutable state of one simulation.
struct SimulationRun<Policy: SchedulingPolicy> {
    struct CPU {
        var vcpu: Int?
        var start: Nanoseconds = 0
    }

    let config: Simulator
    let workload: [SimulatedVCPU]
    var core: SchedulerCore<Policy>
    var phases: [PhaseQueue]
    var indexOf: [VCPUID: Int] = [:]
    var processors: [CPU]
    /// Timer handles: 0..<cpus run ends; then one wake-up per vCPU; then the policy timer.
    var timers = IndexedHeap<Nanoseconds>()
    var trace: [SliceRecord] = []
    var now: Nanoseconds = 0

    var policyTimer: Int { config.cpus + workload.count }

    init(simulator: Simulator, policy: Policy, workload: [SimulatedVCPU]) throws(SchedulerError) {
        self.config = simulator
        self.workload = workload
        self.core = SchedulerCore(policy: policy)
        self.processors = Array(repeating: CPU(), count: simulator.cpus)
        self.phases = workload.indices.map {
            PhaseQueue(pattern: workload[$0].pattern, seed: simulator.seed, stream: UInt64($0))
        }
        for (i, vcpu) in workload.enumerated() {
            guard indexOf[vcpu.id] == nil else { throw .duplicateVCPU(vcpu.id) }
            indexOf[vcpu.id] = i
            try core.add(vcpu.id, parameters: vcpu.parameters, at: 0)
            timers.set(simulator.cpus + i, key: vcpu.arrival)
        }
    }

    mutating func execute() throws(SchedulerError) {
        while let next = timers.min, next.key < config.duration {
            now = next.key
            var reconsider = false
            while let due = timers.min, due.key == now {
                timers.remove(due.handle)
                if due.handle < config.cpus {
                    try endRun(on: due.handle)
                } else if due.handle < policyTimer {
                    let i = due.handle - config.cpus
                    try core.wake(workload[i].id, at: now)
                    reconsider = true
                } else {
                    reconsider = true
                }
            }
            try dispatch(checkPreemption: reconsider)
        }
        now = config.duration
        for cpu in processors.indices where processors[cpu].vcpu != nil {
            timers.remove(cpu)
            try endRun(on: cpu)
        }
        core.settle(at: now)
    }

    /// Gives free CPUs work, preempts where the policy says so, and re-arms the policy timer.
    private mutating func dispatch(checkPreemption: Bool) throws(SchedulerError) {
        var started = [Bool](repeating: false, count: processors.count)
        for cpu in processors.indices where processors[cpu].vcpu == nil {
            guard let decision = try core.pickNext(at: now) else { break }
            try start(decision, on: cpu)
            started[cpu] = true
        }
        if checkPreemption {
            for cpu in processors.indices where !started[cpu] {
                guard let v = processors[cpu].vcpu,
                    core.shouldPreempt(workload[v].id, ranFor: now - processors[cpu].start, at: now)
                else { continue }
                timers.remove(cpu)
                try endRun(on: cpu)
                if let decision = try core.pickNext(at: now) { try start(decision, on: cpu) }
            }
        }
        if let next = core.nextEventTime(after: now) {
            timers.set(policyTimer, key: max(next, now + 1))
        } else {
            timers.remove(policyTimer)
        }
    }

    private mutating func start(_ decision: SchedulingDecision, on cpu: Int) throws(SchedulerError) {
        guard let v = indexOf[decision.vcpu] else { throw .unknownVCPU(decision.vcpu) }
        processors[cpu] = CPU(vcpu: v, start: now)
        // Run until the slice ends or the next blocking phase, whichever is first.
        var planned: Nanoseconds = 0
        var offset = 0
        while planned < decision.slice, let phase = phases[v].phase(at: offset) {
            if case .blocked = phase { break }
            planned = planned.addingReportingOverflow(phase.length).overflow ? .max : planned + phase.length
            offset += 1
        }
        let length = min(planned, decision.slice)
        timers.set(cpu, key: length > .max - now ? .max : now + length)
    }

    /// Ends the run on `cpu` at `now`: consumes the phases it covered and reports it.
    private mutating func endRun(on cpu: Int) throws(SchedulerError) {
        guard let v = processors[cpu].vcpu else { return }
        let start = processors[cpu].start
        var left = now - start
        var handling: Nanoseconds = 0
        while left > 0, let phase = phases[v].phase(at: 0) {
            if case .blocked = phase { break }
            let used = min(left, phase.length)
            if case .exitHandling = phase { handling += used }
            left -= used
            if used == phase.length { phases[v].advance() } else { phases[v].setRemaining(phase.length - used) }
        }
        let outcome: SliceOutcome
        var wakeAt: Nanoseconds?
        switch phases[v].phase(at: 0) {
        case .blocked(let length)?:
            outcome = .blocked
            phases[v].advance()
            wakeAt = length > .max - now ? .max : now + length
        case nil:
            outcome = .blocked  // the pattern ended: halted for good
        default:
            outcome = .preempted
        }
        let id = workload[v].id
        try core.finish(id, exitHandling: handling, outcome: outcome, at: now)
        if let wakeAt { timers.set(config.cpus + v, key: wakeAt) }
        processors[cpu] = CPU()
        if config.recordsTrace {
            trace.append(
                SliceRecord(cpu: cpu, vcpu: id, start: start, end: now, exitHandling: handling, outcome: outcome))
        }
    }

    func report() -> SchedulingReport {
        SchedulingReport(
            cpus: config.cpus, duration: config.duration, vcpus: workload.map(\.id), core: core, trace: trace)
    }
}
