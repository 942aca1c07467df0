import DeviceModel
import HostSupport
import KVM
import VCPU

/// A KVM vCPU on its own `VCPURunner` thread that runs only while it holds a run token: the
/// ``SchedulableVCPU`` the ``VCPUDispatcher`` drives for real guests.
///
/// ``runSlice(_:)`` (called on a dispatcher worker) starts the runner on the first slice and
/// resumes it on later ones, sleeps until the slice's end, a ``preempt()``, or the guest
/// blocking, then kicks the vCPU (`VCPURunner.requestPause`: `immediate_exit` plus the kick
/// signal) and waits until it is parked with any pending IN/MMIO completed. Between slices the
/// runner thread is parked, so at most as many guests run as the dispatcher has workers.
///
/// A guest `HLT` (without an in-kernel irqchip, where KVM exits to user space) and
/// ``blockForIO()`` (from a device on this vCPU's thread) park the vCPU before it re-enters the
/// guest and end the slice ``SliceEnd/halted`` / ``SliceEnd/waitingForIO``; the embedder calls
/// the dispatcher's ``VCPUWakeSink/wake(_:)`` when an interrupt or the I/O completion arrives.
/// With an in-kernel irqchip KVM halts inside `KVM_RUN`; the vCPU then sleeps in the kernel
/// holding its slot until the slice expires.
///
/// Time accounting of a slice: exit handling (T_io) is the growth of the runner's
/// `ExitStatistics.totalNanoseconds`; guest time is the rest of the resume-to-parked time.
public final class GatedVCPU<CPU: VirtualCPUHandle>: SchedulableVCPU, @unchecked Sendable {
    /// The identity the policy knows this vCPU by.
    public let schedulingID: VCPUID
    /// The runner (its lifecycle is driven by ``runSlice(_:)``; stop it with ``stop()``).
    public let runner: VCPURunner<CPU>
    private let gate: ConditionLock<GateState>

    struct GateState {
        weak var runner: VCPURunner<CPU>?
        var preemptRequested = false
        var blockedBy: SliceEnd?
        var kickToExit = LatencySamples()
        var kickToParked = LatencySamples()
        var resumes = LatencySamples()
    }

    /// A gated vCPU with the scheduler identity `id` around `vcpu`, with its buses and exit
    /// handler as for a `VCPURunner` (the handler sees every exit but `HLT`).
    public init(
        id: VCPUID, vcpu: CPU, portIO: PortIOBus = PortIOBus(), mmio: MMIOBus = MMIOBus(),
        handler: (any VCPUExitHandler)? = nil
    ) {
        schedulingID = id
        let gate = ConditionLock(GateState())
        self.gate = gate
        runner = VCPURunner(
            vcpu: vcpu, portIO: portIO, mmio: mmio, handler: HaltInterceptor(inner: handler, gate: gate))
        gate.withLock { $0.runner = runner }
    }

    deinit { runner.stop() }

    /// The runner thread's kernel thread id while it exists (created on the first slice).
    public var hostThreadID: Int32? { runner.threadID }

    /// Kick-to-out-of-guest delays of the slices this vCPU was preempted from: from the kick
    /// until the interrupted `KVM_RUN` returned (slices whose kick found the vCPU already out
    /// of the guest, handling an exit, are left out).
    public var preemptionLatencies: LatencySamples { gate.withLock { $0.kickToExit } }

    /// Kick-to-parked delays: until the vCPU thread was parked with pending I/O completed.
    public var parkLatencies: LatencySamples { gate.withLock { $0.kickToParked } }

    /// How long `VCPURunner.resume()` took at the start of each slice after the first (until the
    /// parked vCPU thread took the request).
    public var resumeLatencies: LatencySamples { gate.withLock { $0.resumes } }

    /// Ends the current slice as ``SliceEnd/waitingForIO``: call it from a device handler on
    /// this vCPU's thread when the guest must wait for I/O the VMM completes later. The vCPU
    /// parks before re-entering the guest; wake it through the dispatcher on completion.
    public func blockForIO() { Self.block(gate, .waitingForIO) }

    /// Stops the runner thread (after the dispatcher stopped) and returns its outcome.
    @discardableResult
    public func stop() -> VCPUOutcome { runner.stop() }

    /// Ends the running slice now (wakes the worker sleeping in ``runSlice(_:)``, which kicks
    /// the vCPU), or the next one at once if none runs.
    public func preempt() { gate.withLock { $0.preemptRequested = true } }

    /// Runs the guest for at most `slice` nanoseconds on its runner thread (see the type's
    /// documentation); returns with the vCPU parked.
    public func runSlice(_ slice: Nanoseconds) -> SliceReport {
        let begin = monotonicNanoseconds()
        let early: SliceEnd? = gate.withLock { g in
            if g.preemptRequested {
                g.preemptRequested = false
                return .preempted
            }
            g.blockedBy = nil
            return nil
        }
        if let early { return SliceReport(guestTime: 0, exitHandling: 0, end: early) }

        let statistics = runner.statistics
        let ioBefore = statistics.totalNanoseconds
        do throws(VCPUError) {
            switch runner.state {
            case .created:
                try runner.start()
            case .stopped:
                return SliceReport(guestTime: 0, exitHandling: 0, end: endOfRun())
            default:
                try runner.resume()
                let resumed = monotonicNanoseconds() &- begin
                gate.withLock { $0.resumes.append(resumed) }
            }
        } catch {
            return SliceReport(guestTime: 0, exitHandling: 0, end: endOfRun())
        }

        let deadline = begin &+ slice
        // The run loop can also end on its own (guest shutdown, an error): look every few
        // milliseconds (the runner offers no wake-up for that).
        let runner = self.runner
        let reason: SliceEnd = gate.wait(
            for: { g, now -> SliceEnd? in
                if let blocked = g.blockedBy { return blocked }
                if g.preemptRequested {
                    g.preemptRequested = false
                    return .preempted
                }
                if now >= deadline { return .sliceExpired }
                return runner.state == .stopped ? .stopped : nil
            }, deadline: { _ in min(deadline, monotonicNanoseconds() &+ Self.endPoll) })

        if reason == .sliceExpired || reason == .preempted {
            let kick = monotonicNanoseconds()
            do throws(VCPUError) { try runner.requestPause() } catch {}  // parked or ended meanwhile
            runner.waitWhileRunning()
            let parked = monotonicNanoseconds()
            // Out of the guest: the kicked KVM_RUN returned. Without such an exit after the kick
            // the vCPU was already out (handling an exit) and parked without re-entering.
            let out = statistics.lastKickExitNanoseconds
            gate.withLock { g in
                if out >= kick, out <= parked { g.kickToExit.append(out - kick) }
                g.kickToParked.append(parked - kick)
            }
        } else {
            runner.waitWhileRunning()
        }
        let end = monotonicNanoseconds()
        let exitHandling = statistics.totalNanoseconds &- ioBefore
        let held = end > begin ? end - begin : 0
        // A block that raced with the kick still ends the slice blocked.
        let finalReason: SliceEnd =
            runner.state == .stopped
            ? endOfRun() : gate.withLock { $0.blockedBy } ?? (reason == .stopped ? .preempted : reason)
        return SliceReport(
            guestTime: held - min(held, exitHandling), exitHandling: min(held, exitHandling), end: finalReason)
    }

    /// How often a slice looks whether the run loop ended on its own.
    static var endPoll: Nanoseconds { 5_000_000 }

    /// `stopped` or `failed`, from the runner's outcome.
    private func endOfRun() -> SliceEnd {
        if case .failed = runner.outcome { return .failed }
        return .stopped
    }

    /// Records why the guest blocked and asks the runner to park before re-entering the guest.
    fileprivate static func block(_ gate: ConditionLock<GateState>, _ reason: SliceEnd) {
        let runner = gate.withLock { g -> VCPURunner<CPU>? in
            g.blockedBy = reason
            return g.runner
        }
        do throws(VCPUError) { try runner?.requestPause() } catch {}  // already parked or ended
    }
}

/// The runner's exit handler: turns `HLT` into a parked, blocked vCPU and hands every other exit
/// to the embedder's handler.
private struct HaltInterceptor<CPU: VirtualCPUHandle>: VCPUExitHandler {
    let inner: (any VCPUExitHandler)?
    let gate: ConditionLock<GatedVCPU<CPU>.GateState>

    func handle(_ exit: VMExit, vcpu: any VirtualCPUHandle) -> ExitAction {
        if case .hlt = exit {
            GatedVCPU<CPU>.block(gate, .halted)
            return .resume
        }
        return inner?.handle(exit, vcpu: vcpu) ?? .unhandled
    }
}
