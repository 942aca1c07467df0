import HostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Runs N ``SchedulableVCPU``s (from one or several VMs) on M host worker slots under a
/// `SchedulingPolicy`: the real-time counterpart of the `Scheduling` target's `Simulator`,
/// driving the same `SchedulerCore` with `CLOCK_MONOTONIC`.
///
/// Each worker is a host thread that loops: pick the next vCPU under the core's lock, run one
/// slice of it (``SchedulableVCPU/runSlice(_:)``, lock released), account the slice. A vCPU
/// therefore runs only while the policy has granted it one of the M slots, and at most M run at
/// once. Idle workers sleep until a ``wake(_:)`` or the policy's next event time. After a
/// wake-up with every slot busy, the dispatcher asks the policy whether a running vCPU should
/// give way and ``SchedulableVCPU/preempt()``s it. A slice that ends halted or waiting for I/O
/// takes the vCPU off the run queue until ``wake(_:)``; one that ends stopped or failed removes
/// it.
///
/// ```swift
/// let dispatcher = try VCPUDispatcher(policy: WeightedFairPolicy(slice: 5_000_000), workers: 1)
/// for vcpu in gatedVCPUs { try dispatcher.add(vcpu, parameters: SchedulingParameters()) }
/// try dispatcher.start()
/// // …
/// dispatcher.stop()                 // joins the workers
/// print(dispatcher.report().renderTable())
/// ```
///
/// Times in the core, the report and the trace are nanoseconds since ``start()``.
public final class VCPUDispatcher<Policy: SchedulingPolicy>: VCPUWakeSink, @unchecked Sendable {
    /// Number of worker slots (M).
    public let workerCount: Int
    /// Per worker, the CPUs its slot is pinned to (empty: no pinning).
    public let workerAffinity: [CPUAffinity]
    /// The host scheduling class of the worker threads.
    public let workerPriority: WorkerPriority

    private struct Entry {
        let vcpu: any SchedulableVCPU
        /// A wake-up arrived while the vCPU was running: apply it when the slice ends blocked.
        var wakePending = false
        /// The worker whose affinity was last applied to the vCPU's host thread.
        var pinnedTo: Int?
        /// Off the run queue by ``VCPUDispatcher/suspend(_:)`` until ``VCPUDispatcher/resume(_:)``.
        var suspended = false
        /// Make it runnable on resume: it was runnable when suspended, or a wake-up came meanwhile.
        var wakeOnResume = false
        /// Callers waiting for its running slice to end (``VCPUDispatcher/remove(_:)`` and the
        /// like): the slice's end then keeps it off the run queue, so that it is not picked
        /// again before they act.
        var holds = 0
        /// Held off the run queue at its slice's end while it was runnable (or woken): it goes
        /// back once the holders are done.
        var heldRunnable = false
    }

    private struct State {
        var core: SchedulerCore<Policy>
        var entries: [VCPUID: Entry] = [:]
        var order: [VCPUID] = []
        /// Running vCPUs: worker and start of the slice.
        var running: [VCPUID: (worker: Int, start: Nanoseconds)] = [:]
        var epoch: Nanoseconds?
        var stopping = false
        var stoppedAt: Nanoseconds?
        var failure: SchedulerError?
        var recordsTrace: Bool
        var trace: [SliceRecord] = []
        var workerThreadIDs: [Int32?]
        var workersWithoutPriority = 0
        var threads: [HostThread] = []
        var decisionCost = DecisionCost()

        /// Nanoseconds since start (0 before).
        func time(_ clock: Nanoseconds) -> Nanoseconds {
            guard let epoch else { return 0 }
            return clock > epoch ? clock - epoch : 0
        }
    }

    private let state: ConditionLock<State>

    /// A dispatcher for `workers` slots. `workerAffinity`, when not empty, gives each worker's
    /// CPUs (one entry per worker): the worker thread and every vCPU host thread it runs are
    /// pinned to them. `workerPriority` raises the workers above the guests' threads so that
    /// slice ends are kicked on time on a busy host. `recordsTrace` keeps every slice (for
    /// `TimelineSVG`).
    ///
    /// - Throws: ``DispatcherError/invalidConfiguration(_:)`` when `workers` is not positive or
    ///   `workerAffinity` is neither empty nor one entry per worker.
    public init(
        policy: Policy, workers: Int, workerAffinity: [CPUAffinity] = [], workerPriority: WorkerPriority = .inherited,
        recordsTrace: Bool = false
    ) throws(DispatcherError) {
        guard workers > 0 else { throw .invalidConfiguration("a dispatcher needs at least one worker") }
        guard workerAffinity.isEmpty || workerAffinity.count == workers else {
            throw .invalidConfiguration("\(workerAffinity.count) affinities for \(workers) workers")
        }
        workerCount = workers
        self.workerAffinity = workerAffinity
        self.workerPriority = workerPriority
        state = ConditionLock(
            State(
                core: SchedulerCore(policy: policy), recordsTrace: recordsTrace,
                workerThreadIDs: Array(repeating: nil, count: workers)))
    }

    /// Registers a vCPU with its parameters; it is runnable at once unless `runnable` is false
    /// (then it waits for ``wake(_:)``). Allowed before and after ``start()``.
    ///
    /// - Throws: ``DispatcherError/scheduler(_:)`` when the policy refuses the vCPU (already
    ///   registered, or parameters it cannot use, such as no reservation for a real-time policy).
    public func add(
        _ vcpu: any SchedulableVCPU, parameters: SchedulingParameters, runnable: Bool = true
    ) throws(DispatcherError) {
        let id = vcpu.schedulingID
        let result: Result<Void, SchedulerError> = state.withLock { s in
            let now = s.time(monotonicNanoseconds())
            do throws(SchedulerError) {
                try s.core.add(id, parameters: parameters, at: now)
                if runnable { try s.core.wake(id, at: now) }
            } catch {
                return .failure(error)
            }
            s.entries[id] = Entry(vcpu: vcpu)
            s.order.append(id)
            return .success(())
        }
        if case .failure(let error) = result { throw .scheduler(error) }
    }

    /// Starts the worker threads. Times count from here.
    ///
    /// - Throws: ``DispatcherError/invalidConfiguration(_:)`` when already started;
    ///   ``DispatcherError/threadCreation(_:)`` when a worker thread cannot be created (the workers
    ///   already started are stopped and joined first).
    public func start() throws(DispatcherError) {
        let started: Int32? = state.withLock { s in
            guard s.epoch == nil else { return EBUSY }
            s.epoch = monotonicNanoseconds()
            for worker in 0..<workerCount {
                // The thread holds the dispatcher until its loop ends.
                let thread: HostThread
                do throws(SystemCallError) {
                    thread = try HostThread.spawn { self.workerMain(worker) }
                } catch {
                    s.stopping = true
                    return error.errno.rawValue
                }
                s.threads.append(thread)
            }
            return nil
        }
        if let started {
            if started == EBUSY { throw .invalidConfiguration("the dispatcher was already started") }
            stop()
            throw .threadCreation(started)
        }
    }

    /// A blocked vCPU can run again (an interrupt for a halted vCPU, its I/O completed). A
    /// wake-up for a vCPU that is running is kept and applied if its slice ends blocked; one for
    /// a runnable vCPU or an unknown one is ignored. Callable from any thread.
    public func wake(_ vcpu: VCPUID) {
        let victim: (any SchedulableVCPU)? = state.withLock { s in
            guard let entry = s.entries[vcpu], !s.stopping else { return nil }
            if entry.suspended {
                s.entries[vcpu]?.wakeOnResume = true
                return nil
            }
            let now = s.time(monotonicNanoseconds())
            switch s.core.policy.state(of: vcpu) {
            case .blocked:
                do throws(SchedulerError) { try s.core.wake(vcpu, at: now) } catch {
                    s.failure = s.failure ?? error
                    return nil
                }
            case .running: s.entries[vcpu]?.wakePending = true
            case .runnable, nil: return nil
            }
            // A free slot picks the woken vCPU up; otherwise ask whether a running one yields.
            guard s.running.count >= workerCount else { return nil }
            for (id, slot) in s.running.sorted(by: { $0.key < $1.key })
            where s.core.shouldPreempt(id, ranFor: now - min(now, slot.start), at: now) {
                return s.entries[id]?.vcpu
            }
            return nil
        }
        victim?.preempt()
    }

    /// Takes a vCPU out of the dispatcher for good (its VM is going away): a running slice is
    /// preempted and waited for (the vCPU is then parked; its owner stops it), then the vCPU
    /// leaves the policy, the accounting and ``report()``. Returns its accounting up to now, or
    /// `nil` for a vCPU the dispatcher does not have. Callable from any thread but the worker
    /// running the vCPU (a device handler on the vCPU's own thread must not wait for its slice).
    @discardableResult
    public func remove(_ vcpu: VCPUID) -> VCPUAccounting? {
        whenNotRunning(vcpu) { s, now -> VCPUAccounting? in
            guard s.entries.removeValue(forKey: vcpu) != nil else { return nil }
            s.order.removeAll { $0 == vcpu }
            do throws(SchedulerError) {
                return try s.core.forget(vcpu, at: now)
            } catch {
                s.failure = s.failure ?? error
                return nil
            }
        }
    }

    /// Takes a vCPU off the run queue until ``resume(_:)`` (its VM is paused): a running slice is
    /// preempted and waited for, so the vCPU is parked when this returns. Wake-ups that arrive
    /// meanwhile are kept for ``resume(_:)``. Suspending a suspended vCPU does nothing.
    ///
    /// - Throws: ``DispatcherError/scheduler(_:)`` with `unknownVCPU` for a vCPU the dispatcher
    ///   does not have.
    public func suspend(_ vcpu: VCPUID) throws(DispatcherError) {
        let result: Result<Void, SchedulerError> = whenNotRunning(vcpu) { s, now in
            guard let entry = s.entries[vcpu] else { return .failure(.unknownVCPU(vcpu)) }
            guard !entry.suspended else { return .success(()) }
            s.entries[vcpu]?.suspended = true
            guard s.core.policy.state(of: vcpu) == .runnable else { return .success(()) }
            s.entries[vcpu]?.wakeOnResume = true
            do throws(SchedulerError) { try s.core.block(vcpu, at: now) } catch { return .failure(error) }
            return .success(())
        }
        if case .failure(let error) = result { throw .scheduler(error) }
    }

    /// Puts a suspended vCPU back: runnable again if it was runnable when suspended or a wake-up
    /// came meanwhile, blocked otherwise. Resuming a vCPU that is not suspended does nothing.
    ///
    /// - Throws: ``DispatcherError/scheduler(_:)`` with `unknownVCPU` for a vCPU the dispatcher
    ///   does not have.
    public func resume(_ vcpu: VCPUID) throws(DispatcherError) {
        let result: Result<Void, SchedulerError> = state.withLock { s in
            guard let entry = s.entries[vcpu] else { return .failure(.unknownVCPU(vcpu)) }
            guard entry.suspended else { return .success(()) }
            s.entries[vcpu]?.suspended = false
            s.entries[vcpu]?.wakeOnResume = false
            guard entry.wakeOnResume, s.core.policy.state(of: vcpu) == .blocked else { return .success(()) }
            do throws(SchedulerError) {
                try s.core.wake(vcpu, at: s.time(monotonicNanoseconds()))
            } catch {
                return .failure(error)
            }
            return .success(())
        }
        if case .failure(let error) = result { throw .scheduler(error) }
    }

    /// Gives a vCPU new parameters (a VM's resized share: weight, cap, priority, reservation).
    /// A running slice is preempted and waited for first; the policy then takes the vCPU back
    /// as `SchedulingPolicy.update(_:parameters:at:)` describes. Its accounting goes on.
    ///
    /// - Throws: ``DispatcherError/scheduler(_:)``: `unknownVCPU` for a vCPU the dispatcher does
    ///   not have (or that has stopped), what the policy throws for parameters it cannot use (the
    ///   old ones are kept).
    public func setParameters(_ parameters: SchedulingParameters, for vcpu: VCPUID) throws(DispatcherError) {
        let result: Result<Void, SchedulerError> = whenNotRunning(vcpu) { s, now in
            guard s.entries[vcpu] != nil else { return .failure(.unknownVCPU(vcpu)) }
            do throws(SchedulerError) { try s.core.update(vcpu, parameters: parameters, at: now) } catch {
                return .failure(error)
            }
            return .success(())
        }
        if case .failure(let error) = result { throw .scheduler(error) }
    }

    /// Runs `body` under the lock at a moment `vcpu` is not running. While it runs, it is held
    /// (its slice's end keeps it off the run queue, so no worker picks it again first),
    /// preempted, and waited for; once the body is done it goes back to the run queue if it was
    /// runnable and the body neither removed nor suspended it.
    private func whenNotRunning<R>(_ vcpu: VCPUID, _ body: (inout State, Nanoseconds) -> R) -> R {
        var result: R?
        let victim: (any SchedulableVCPU)? = state.withLock { s in
            if s.running[vcpu] != nil, let entry = s.entries[vcpu] {
                s.entries[vcpu]?.holds += 1
                return entry.vcpu
            }
            result = body(&s, s.time(monotonicNanoseconds()))
            return nil
        }
        if let result { return result }
        victim?.preempt()
        return state.wait(until: { $0.running[vcpu] == nil }) { s in
            let now = s.time(monotonicNanoseconds())
            s.entries[vcpu]?.holds -= 1
            let result = body(&s, now)
            if let entry = s.entries[vcpu], entry.holds == 0, entry.heldRunnable {
                s.entries[vcpu]?.heldRunnable = false
                if entry.suspended {
                    s.entries[vcpu]?.wakeOnResume = true
                } else if s.core.policy.state(of: vcpu) == .blocked {
                    do throws(SchedulerError) { try s.core.wake(vcpu, at: now) } catch {
                        s.failure = s.failure ?? error
                    }
                }
            }
            return result
        }
    }

    /// Stops dispatching: running vCPUs are preempted, workers finish their slice and exit, and
    /// the call returns once every worker thread is joined. The vCPUs stay registered (parked);
    /// their owners stop them. Safe to call more than once.
    public func stop() {
        let (threads, running): ([HostThread], [any SchedulableVCPU]) = state.withLock { s in
            s.stopping = true
            let threads = s.threads
            s.threads = []
            return (threads, s.running.keys.compactMap { s.entries[$0]?.vcpu })
        }
        for vcpu in running { vcpu.preempt() }
        for thread in threads { thread.join() }
        state.withLock { s in
            if s.stoppedAt == nil { s.stoppedAt = s.time(monotonicNanoseconds()) }
        }
    }

    /// The policy's view of a vCPU (blocked, runnable, running), or `nil` when unknown.
    public func runState(of vcpu: VCPUID) -> VCPURunState? {
        state.withLock { $0.core.policy.state(of: vcpu) }
    }

    /// Workers whose ``workerPriority`` the kernel refused (no `CAP_SYS_NICE`); they run with
    /// the inherited class.
    public var workersWithoutPriority: Int { state.withLock { $0.workersWithoutPriority } }

    /// The first policy error a worker met (the dispatcher stops dispatching after one).
    public var failure: SchedulerError? { state.withLock { $0.failure } }

    /// Accounting, shares and latencies of the run so far (up to ``stop()`` once stopped), with
    /// the slice trace if recorded.
    public func report() -> SchedulingReport {
        state.withLock { s in
            let end = s.stoppedAt ?? s.time(monotonicNanoseconds())
            var core = s.core
            core.settle(at: end)
            var report = SchedulingReport(cpus: workerCount, duration: end, vcpus: s.order, core: core, trace: s.trace)
            report.decisionCost = s.decisionCost
            return report
        }
    }

    /// Kernel thread ids of the worker threads, by worker (`nil` for one that has not started
    /// yet); kept after the workers exit.
    public var workerThreadIDs: [Int32?] { state.withLock { $0.workerThreadIDs } }

    /// The kernel's view (`/proc/self/task/<tid>/schedstat`) of every vCPU host thread and
    /// every worker thread that exists now, in registration order.
    public func kernelView() -> (vcpus: [(VCPUID, ThreadSchedStat)], workers: [(Int, ThreadSchedStat)]) {
        let (vcpus, workers): ([(VCPUID, any SchedulableVCPU)], [Int32?]) = state.withLock { s in
            (s.order.compactMap { id in s.entries[id].map { (id, $0.vcpu) } }, s.workerThreadIDs)
        }
        let vcpuStats = vcpus.compactMap { id, vcpu -> (VCPUID, ThreadSchedStat)? in
            guard let tid = vcpu.hostThreadID, let stat = try? ThreadSchedStat.read(threadID: tid) else { return nil }
            return (id, stat)
        }
        let workerStats = workers.enumerated().compactMap { i, tid -> (Int, ThreadSchedStat)? in
            guard let tid, let stat = try? ThreadSchedStat.read(threadID: tid) else { return nil }
            return (i, stat)
        }
        return (vcpuStats, workerStats)
    }

    // MARK: Workers

    private enum Job {
        case run(SchedulingDecision, any SchedulableVCPU, pin: CPUAffinity?)
        case exit
    }

    /// The body of worker `worker`.
    private func workerMain(_ worker: Int) {
        let affinity = workerAffinity.isEmpty ? nil : workerAffinity[worker]
        try? affinity?.applyToCurrentThread()
        let prioritized = workerPriority.applyToCurrentThread()
        let tid: Int32? = HostThread.currentKernelID
        state.withLock { s in
            s.workerThreadIDs[worker] = tid
            if !prioritized { s.workersWithoutPriority += 1 }
        }
        // When the last slice ended: the time to the next slice's start is the decision's cost,
        // counted when no sleep came in between.
        var sliceEnded: Nanoseconds?
        while case .run(let decision, let vcpu, let pin) = nextJob(worker, since: sliceEnded) {
            if let pin, let thread = vcpu.hostThreadID { try? pin.apply(toThread: thread) }
            let report = vcpu.runSlice(decision.slice)
            sliceEnded = monotonicNanoseconds()
            // Its own critical section, whose end wakes whoever waits for this slice to end (a
            // pick that finds nothing to run sleeps without waking anyone).
            state.withLock { finish(decision.vcpu, worker: worker, report: report, in: &$0) }
        }
    }

    /// Waits until a vCPU can be picked for `worker`, or the dispatcher stops. With `since` (when
    /// the worker's last slice ended), a pick made without waiting counts in the decision cost.
    private func nextJob(_ worker: Int, since sliceEnded: Nanoseconds?) -> Job {
        var attempts = 0
        return state.wait(
            for: { s, clock -> Job? in
                attempts += 1
                if s.stopping || s.failure != nil { return .exit }
                let now = s.time(clock)
                let decision: SchedulingDecision?
                do throws(SchedulerError) { decision = try s.core.pickNext(at: now) } catch {
                    s.failure = error
                    return .exit
                }
                guard let decision, let entry = s.entries[decision.vcpu] else { return nil }
                s.running[decision.vcpu] = (worker, now)
                // Pin the vCPU's thread when it moves to a pinned worker (a new thread inherits
                // the affinity of the worker that creates it).
                var pin: CPUAffinity?
                if !workerAffinity.isEmpty, entry.pinnedTo != worker {
                    s.entries[decision.vcpu]?.pinnedTo = worker
                    pin = workerAffinity[worker]
                }
                if attempts == 1, let sliceEnded {
                    let picked = monotonicNanoseconds()
                    s.decisionCost.record(picked > sliceEnded ? picked - sliceEnded : 0)
                }
                return .run(decision, entry.vcpu, pin: pin)
            },
            deadline: { s in
                guard let epoch = s.epoch, let next = s.core.nextEventTime(after: s.core.now) else { return nil }
                return epoch &+ next
            })
    }

    /// Accounts a slice that ended.
    /// Accounts a slice that ended, with the state locked.
    private func finish(_ vcpu: VCPUID, worker: Int, report: SliceReport, in s: inout State) {
        let now = s.time(monotonicNanoseconds())
        let start = s.running.removeValue(forKey: vcpu)?.start ?? now
        let outcome = report.end.outcome ?? .blocked
        let held = (s.entries[vcpu]?.holds ?? 0) > 0
        let wakePending = s.entries[vcpu]?.wakePending == true
        do throws(SchedulerError) {
            try s.core.finish(vcpu, exitHandling: report.exitHandling, outcome: outcome, at: now)
            if report.end.outcome == nil {
                try s.core.remove(vcpu, at: now)
            } else if held {
                // Someone waits to act on it: off the run queue until they have.
                if outcome == .preempted { try s.core.block(vcpu, at: now) }
                if outcome == .preempted || wakePending { s.entries[vcpu]?.heldRunnable = true }
            } else if outcome == .blocked, wakePending {
                try s.core.wake(vcpu, at: now)
            }
        } catch {
            s.failure = s.failure ?? error
        }
        s.entries[vcpu]?.wakePending = false
        if s.recordsTrace {
            s.trace.append(
                SliceRecord(
                    cpu: worker, vcpu: vcpu, start: start, end: max(start, now),
                    exitHandling: report.exitHandling, outcome: outcome))
        }
    }
}

/// Errors of ``VCPUDispatcher``.
public enum DispatcherError: Error, Equatable, Sendable {
    /// Bad worker count or affinity list, or started twice.
    case invalidConfiguration(String)
    /// A worker thread could not be created (the errno of `pthread_create`).
    case threadCreation(Int32)
    /// The policy rejected an operation (for example a duplicate vCPU).
    case scheduler(SchedulerError)
}
