import DeviceModel
import HostSupport
import KVM
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one vCPU on its own host thread: the run loop, device dispatch and the owner's
/// start / pause / resume / stop, as an explicit state machine (``VCPULifecycleState``).
///
/// ```swift
/// let runner = VCPURunner(vcpu: vcpu, portIO: pio, mmio: mmio)
/// try runner.start()
/// try runner.pause()      // returns once the vCPU is out of the guest, pending I/O completed
/// try runner.resume()
/// let outcome = runner.stop()
/// ```
///
/// Kicking uses `kvm_run.immediate_exit` and the ``KickSignal``; pausing first re-enters
/// `KVM_RUN` once with `immediate_exit` set so that a pending IN or MMIO read completes and the
/// saved state is consistent. Errors end the run and are reported as
/// ``VCPUOutcome/failed(_:)``, never swallowed.
///
/// The runner is generic over the vCPU it drives, so the owner keeps its concrete type:
/// `runner.vcpu` of a `VCPURunner<KVMVirtualCPU>` is the `KVMVirtualCPU` itself (for
/// ``VCPUStateSnapshot/capture(from:msrIndices:hasLAPIC:)``, ``X86Setup`` or anything else the
/// concrete type offers), with no downcast; tests drive scripted stand-ins through the same code.
public final class VCPURunner<CPU: VirtualCPUHandle>: Sendable {
    /// The vCPU this runner drives.
    public let vcpu: CPU
    /// The devices that port-I/O exits go to; devices may be added while the vCPU runs.
    public let portIO: PortIOBus
    /// The devices that MMIO exits go to; devices may be added while the vCPU runs.
    public let mmio: MMIOBus
    /// The embedder's handler for the other exits, if any.
    public let handler: (any VCPUExitHandler)?
    /// Exit counts and handling latencies of this vCPU.
    public let statistics = ExitStatistics()

    struct Control {
        var state: VCPULifecycleState = .created
        var request: VCPUAction?
        var outcome: VCPUOutcome?
        var thread: HostThread?
        var threadID: Int32?
        var joined = false
        var waiters: [@Sendable (VCPULifecycleState, VCPUOutcome?) -> Bool] = []
    }

    let control = ConditionLock(Control())
    /// Non-zero while a pause or stop request waits for the vCPU thread: the run loop's fast
    /// check, so it takes the lock only when there is something to do.
    let pendingRequest = Atomic<Int>(0)
    /// Accesses that reached no device (reads return all ones, writes are dropped).
    let unclaimed = Atomic<UInt64>(0)

    /// A runner for `vcpu` in the `created` state; nothing runs until ``start()``.
    ///
    /// - Parameters:
    ///   - vcpu: the vCPU to run (configured: registers, CPUID … set).
    ///   - portIO: the port-I/O bus; accesses no device claims read as all ones and are
    ///     otherwise dropped (counted in ``unclaimedAccesses``).
    ///   - mmio: the MMIO bus, with the same rule for unclaimed accesses.
    ///   - handler: what handles the other exits before the defaults.
    public init(
        vcpu: CPU, portIO: PortIOBus = PortIOBus(), mmio: MMIOBus = MMIOBus(),
        handler: (any VCPUExitHandler)? = nil
    ) {
        self.vcpu = vcpu
        self.portIO = portIO
        self.mmio = mmio
        self.handler = handler
    }

    deinit {
        // A runner dropped while its thread runs would leave the thread with a dangling owner.
        _ = stop()
    }

    /// The current lifecycle state.
    public var state: VCPULifecycleState { control.withLock { $0.state } }

    /// Why the run loop ended, once it has.
    public var outcome: VCPUOutcome? { control.withLock { $0.outcome } }

    /// The kernel thread id of the vCPU thread while it runs (for `/proc/self/task/<tid>`).
    public var threadID: Int32? { control.withLock { $0.threadID } }

    /// Port-I/O and MMIO accesses that no device claimed.
    public var unclaimedAccesses: UInt64 { unclaimed.load(ordering: .relaxed) }

    /// Starts the vCPU thread and the run loop.
    ///
    /// - Throws: ``VCPUError/invalidTransition(from:action:)`` unless the state is `created`;
    ///   ``VCPUError/threadCreation(_:)`` when the thread cannot be created.
    public func start() throws(VCPUError) {
        try control.withLock { (c) throws(VCPUError) in
            guard c.state.allows(.start) else { throw .invalidTransition(from: c.state, action: .start) }
            _ = KickSignal.number  // install the handler before the thread can be kicked
            // The thread holds the runner until its loop ends.
            let thread: HostThread
            do throws(SystemCallError) {
                thread = try HostThread.spawn { self.threadMain() }
            } catch {
                throw .threadCreation(error.errno.rawValue)
            }
            c.thread = thread
            c.state = .running
        }
    }

    /// Stops the guest at its next instruction boundary and waits until it is parked.
    /// Returns at once if the run ended meanwhile, and waits for the end of the run if a
    /// ``stop()`` is under way (the state is then `stopped`).
    public func pause() throws(VCPUError) {
        try request(.pause)
        waitWhileRunning()
    }

    /// Asks the vCPU to pause without waiting for it: usable from a device handler running on
    /// the vCPU thread itself. The vCPU parks before it re-enters the guest.
    public func requestPause() throws(VCPUError) {
        try request(.pause)
    }

    /// Waits until the vCPU is no longer running (paused or stopped), for example after
    /// ``requestPause()``.
    public func waitWhileRunning() {
        control.wait(until: { $0.state != .running }, then: { _ in })
    }

    /// Lets a paused vCPU run again. If a ``stop()`` is under way the stop wins and the vCPU
    /// does not run again (the state becomes `stopped`).
    public func resume() throws(VCPUError) {
        try request(.resume)
        control.wait(until: { $0.request != .resume }, then: { _ in })
    }

    /// Stops the run loop (if it runs), joins the thread and returns the outcome. Safe to call
    /// in any state and more than once.
    @discardableResult
    public func stop() -> VCPUOutcome {
        let thread: HostThread? = control.withLock { c in
            if c.state == .created {
                Self.apply(.stopped, outcome: .stoppedByOwner, to: &c)
                return nil
            }
            if c.state != .stopped {
                c.request = .stop
                pendingRequest.store(1, ordering: .sequentiallyConsistent)
            }
            if c.joined { return nil }
            c.joined = true
            return c.thread
        }
        if thread != nil { kick() }
        if let thread {
            // The last reference to a runner can go away on its own vCPU thread (after the run
            // loop ended): that thread cannot join itself, so it is detached instead.
            if thread.isCurrent {
                thread.detach()
            } else {
                thread.join()
            }
        }
        return control.wait(until: { $0.state == .stopped }, then: { $0.outcome ?? .stoppedByOwner })
    }

    /// Waits until the run loop ends by itself (guest halted, handler stopped it, error) and
    /// returns the outcome.
    public func waitUntilStopped() -> VCPUOutcome {
        control.wait(until: { $0.state == .stopped }, then: { $0.outcome ?? .stoppedByOwner })
    }

    /// Forces the vCPU out of the guest soon: sets `immediate_exit` and signals its thread.
    /// The run loop then looks at pending requests and, if there are none, re-enters.
    public func kick() {
        vcpu.immediateExit = true
        if let thread = control.withLock({ $0.state == .stopped ? nil : $0.thread }) {
            thread.send(signal: KickSignal.number)
        }
    }

    /// Records `action` for the vCPU thread. A stop already requested wins: a pause or resume
    /// made while it is pending is absorbed (the run ends as asked), never written over it — a
    /// stop overwritten by a resume or pause would leave the thread running or parked while
    /// ``stop()`` waits to join it.
    private func request(_ action: VCPUAction) throws(VCPUError) {
        let recorded = try control.withLock { (c) throws(VCPUError) -> Bool in
            guard c.state.allows(action) else { throw .invalidTransition(from: c.state, action: action) }
            if c.request == .stop { return false }
            c.request = action
            pendingRequest.store(1, ordering: .sequentiallyConsistent)
            return true
        }
        if recorded, action == .pause { kick() }
    }

    // MARK: async

    /// Waits without blocking a thread until the run loop has ended; returns the outcome.
    public func stopped() async -> VCPUOutcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<VCPUOutcome, Never>) in
            whenState({ $0 == .stopped }) { outcome in continuation.resume(returning: outcome ?? .stoppedByOwner) }
        }
    }

    /// `pause()` without blocking a thread.
    public func paused() async throws(VCPUError) {
        try request(.pause)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenState({ $0 != .running }) { _ in continuation.resume() }
        }
    }

    /// `resume()` without blocking a thread: returns once the vCPU runs again (or has stopped).
    public func resumed() async throws(VCPUError) {
        try request(.resume)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenState({ $0 != .paused }) { _ in continuation.resume() }
        }
    }

    /// `stop()` without blocking a thread while the vCPU winds down: requests the stop, awaits
    /// the end of the run loop, then joins the (finished) thread.
    @discardableResult
    public func stopped(requesting: Bool) async -> VCPUOutcome {
        guard requesting else { return await stopped() }
        let running = control.withLock { c -> Bool in
            guard c.state == .running || c.state == .paused else { return false }
            c.request = .stop
            pendingRequest.store(1, ordering: .sequentiallyConsistent)
            return true
        }
        if running {
            kick()
            _ = await stopped()
        }
        return stop()
    }

    /// Calls `body` with the outcome so far once the state satisfies `predicate` (at once if it
    /// does already). `body` runs with the control lock held: it must not call back into the
    /// runner.
    func whenState(
        _ predicate: @escaping @Sendable (VCPULifecycleState) -> Bool,
        _ body: @escaping @Sendable (VCPUOutcome?) -> Void
    ) {
        control.withLock { c in
            if predicate(c.state) {
                body(c.outcome)
                return
            }
            c.waiters.append { state, outcome in
                guard predicate(state) else { return false }
                body(outcome)
                return true
            }
        }
    }

    /// Sets the state (on the vCPU thread) and runs the waiters it satisfies.
    func transition(to state: VCPULifecycleState, outcome: VCPUOutcome? = nil) {
        control.withLock { c in Self.apply(state, outcome: outcome, to: &c) }
    }

    /// Sets the state in locked control data and runs the waiters it satisfies.
    static func apply(_ state: VCPULifecycleState, outcome: VCPUOutcome? = nil, to c: inout Control) {
        c.state = state
        if let outcome { c.outcome = outcome }
        let current = c.outcome
        c.waiters.removeAll { $0(state, current) }
    }
}
