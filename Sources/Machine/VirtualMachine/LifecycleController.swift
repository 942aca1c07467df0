import Foundation
import HostSupport
import Synchronization

/// The VM's state machine, behind one lock: transitions, the first stop reason, the subscribers
/// of state changes and the waiters for the end.
final class LifecycleController: Sendable {
    struct Control {
        var state = VirtualMachineState.created
        /// The reason of the stop under way (the first one given), before `state` is `stopped`.
        var stopping: VirtualMachineOutcome?
        var subscribers: [UUID: AsyncStream<VirtualMachineState>.Continuation] = [:]
        var stopAll: (@Sendable () -> Void)?
        /// A start, pause or resume is under way (they do not overlap).
        var transitioning = false
    }

    let control = ConditionLock(Control())
    /// The threads that wait for a vCPU's end or carry out a stop: joined when the VM goes, so
    /// that nothing they hold outlives it.
    private let helpers = Mutex<[HostThread]>([])

    /// Runs `body` on a new helper thread (joined by ``joinHelpers()``); `false` when no thread
    /// could be created.
    @discardableResult
    func spawnHelper(_ body: @escaping @Sendable () -> Void) -> Bool {
        guard let thread = try? HostThread.spawn(body) else { return false }
        helpers.withLock { $0.append(thread) }
        return true
    }

    /// Joins every helper thread (from the owner's thread, once the VM is stopped).
    func joinHelpers() {
        while let thread = helpers.withLock({ $0.popLast() }) {
            if !thread.isCurrent { thread.join() } else { thread.detach() }
        }
    }

    var state: VirtualMachineState { control.withLock { $0.state } }

    /// Whether a stop is under way or done.
    var isStopping: Bool { control.withLock { $0.stopping != nil } }

    func setStopAll(_ body: @escaping @Sendable () -> Void) { control.withLock { $0.stopAll = body } }

    /// Runs `body` to go from `from` to `to`, one transition at a time; a failure of `body`
    /// stops the VM with it. A stop that comes meanwhile wins: the state is then `stopped`.
    func transition(
        from: VirtualMachineState, to: VirtualMachineState, action: String,
        _ body: () throws(VirtualMachineError) -> Void
    ) throws(VirtualMachineError) {
        try control.withLock { (c) throws(VirtualMachineError) in
            guard c.state == from, c.stopping == nil, !c.transitioning else {
                throw .invalidTransition(from: c.state, action: action)
            }
            c.transitioning = true
        }
        defer { control.withLock { $0.transitioning = false } }
        do {
            try body()
        } catch {
            if case .vcpu(let index, let vcpuError) = error {
                finish(.failed(vcpu: index, vcpuError), synchronously: true)
            } else {
                finish(.stoppedByOwner, synchronously: true)
            }
            throw error
        }
        control.withLock { c in
            guard c.stopping == nil, c.state == from else { return }
            c.state = to
            for subscriber in c.subscribers.values { subscriber.yield(to) }
        }
    }

    /// Stops the VM with `outcome` unless a stop is already under way; with `synchronously`
    /// false (a vCPU or device thread asking) the vCPUs are stopped from a new thread, since a
    /// vCPU thread cannot wait for itself.
    func finish(_ outcome: VirtualMachineOutcome, synchronously: Bool) {
        let stopAll = control.withLock { c -> (@Sendable () -> Void)?? in
            if case .stopped = c.state { return nil }
            if c.stopping != nil { return nil }
            c.stopping = outcome
            return .some(c.stopAll)
        }
        guard let stopAll else { return }
        let complete: @Sendable () -> Void = { [self] in
            stopAll?()
            let subscribers = control.withLock { c in
                let final = VirtualMachineState.stopped(c.stopping ?? outcome)
                c.state = final
                // The devices' closures hold this controller and it held them through the
                // runners: the stop is final, so let go of them.
                c.stopAll = nil
                for subscriber in c.subscribers.values { subscriber.yield(final) }
                defer { c.subscribers = [:] }
                return Array(c.subscribers.values)
            }
            // Outside the lock: finishing runs each stream's termination handler, which takes it.
            for subscriber in subscribers { subscriber.finish() }
        }
        if synchronously {
            complete()
        } else if spawnHelper(complete) {
        } else {
            complete()  // no thread to be had: the caller is not a vCPU thread's own run loop here
        }
    }

    func waitUntilStopped() -> VirtualMachineOutcome {
        control.wait(
            until: { if case .stopped = $0.state { true } else { false } },
            then: { c in
                if case .stopped(let outcome) = c.state { return outcome }
                return .stoppedByOwner
            })
    }

    func waitUntilStopped(timeout seconds: Double) -> VirtualMachineOutcome? {
        let deadline = monotonicNanoseconds() + UInt64(max(0, seconds) * 1e9)
        return control.wait(
            for: { c, now -> VirtualMachineOutcome?? in
                if case .stopped(let outcome) = c.state { return .some(outcome) }
                return now >= deadline ? .some(nil) : nil
            }, deadline: { _ in deadline })
    }

    func subscribe() -> AsyncStream<VirtualMachineState> {
        let (stream, continuation) = AsyncStream.makeStream(of: VirtualMachineState.self)
        let id = UUID()
        continuation.onTermination = { [weak self] _ in
            self?.control.withLock { c in c.subscribers[id] = nil }
        }
        let ended = control.withLock { c -> Bool in
            continuation.yield(c.state)
            if case .stopped = c.state { return true }
            c.subscribers[id] = continuation
            return false
        }
        // Outside the lock: finishing runs the termination handler, which takes it.
        if ended { continuation.finish() }
        return stream
    }
}
