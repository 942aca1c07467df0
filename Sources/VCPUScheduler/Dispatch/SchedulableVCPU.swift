/// The seam between the scheduler and whatever runs guest code: a vCPU that can be run for
/// one slice at a time and says why it stopped. ``GatedVCPU`` implements it for KVM vCPUs
/// (around the `VCPU` target's `VCPURunner`); tests implement it with fakes. The dispatcher
/// and this protocol depend on nothing of KVM.
///
/// A dispatcher with M host CPUs loops on each of them:
///
/// ```swift
/// // under the core's lock:
/// guard let decision = try core.pickNext(at: now()) else { wait for a wake-up or core.nextEventTime }
/// let report = vcpus[decision.vcpu].runSlice(decision.slice)       // lock released
/// // under the lock again:
/// try core.finish(decision.vcpu, exitHandling: report.exitHandling,
///                 outcome: report.end.outcome ?? .blocked, at: now())
/// if report.end == .stopped || report.end == .failed { try core.remove(decision.vcpu, at: now()) }
/// ```
///
/// and calls ``preempt()`` on a running vCPU when `SchedulerCore.shouldPreempt(_:ranFor:at:)`
/// (in the `Scheduling` target) says so after a wake-up or at the policy's next event time. A halted or I/O-blocked vCPU
/// comes back through ``VCPUWakeSink/wake(_:)`` (an interrupt was injected, the I/O completed).
public protocol SchedulableVCPU: AnyObject, Sendable {
    /// The identity the policy knows this vCPU by.
    var schedulingID: VCPUID { get }

    /// Runs the guest on the calling thread until the first of: `slice` nanoseconds have
    /// passed (the implementation keeps the time itself — ``GatedVCPU`` sleeps until the deadline
    /// and then kicks its vCPU — and reports ``SliceEnd/sliceExpired``); ``preempt()`` was called (``SliceEnd/preempted``); the guest
    /// halted (``SliceEnd/halted``) or must wait for I/O the VMM completes asynchronously
    /// (``SliceEnd/waitingForIO``); the vCPU was stopped or failed. Exits handled synchronously
    /// (port I/O to an emulated device, MMIO) do not end the slice; their handling time is
    /// reported as ``SliceReport/exitHandling``.
    ///
    /// Must leave the vCPU in a state from which the next `runSlice` can resume it (a pending
    /// IN or MMIO read completed, as the `VCPU` target's pause does).
    func runSlice(_ slice: Nanoseconds) -> SliceReport

    /// Makes a running ``runSlice(_:)`` return as soon as possible (the `VCPU` target's kick:
    /// `immediate_exit` plus the kick signal). Callable from any thread, also when the vCPU is
    /// not running, in which case the next `runSlice` returns at once with
    /// ``SliceEnd/preempted``.
    func preempt()

    /// The kernel thread id of the host thread running the guest, while there is one (for
    /// `/proc/self/task/<tid>/schedstat` and for pinning it to a worker's CPUs). The default
    /// is `nil`: the guest runs on the thread calling ``runSlice(_:)``.
    var hostThreadID: Int32? { get }
}

extension SchedulableVCPU {
    /// `nil`: by default the guest runs on the thread that calls ``runSlice(_:)``.
    public var hostThreadID: Int32? { nil }
}

/// What a dispatcher implements so that blocked vCPUs can become runnable again.
public protocol VCPUWakeSink: AnyObject, Sendable {
    /// The vCPU can run again: an interrupt arrived for a halted vCPU, or its I/O completed.
    /// Called from any thread (device threads, the I/O completion path).
    func wake(_ vcpu: VCPUID)
}

/// How one ``SchedulableVCPU/runSlice(_:)`` went.
public struct SliceReport: Sendable, Equatable {
    /// Time spent in the guest (T_cpu).
    public var guestTime: Nanoseconds
    /// Time spent in the VMM handling this vCPU's exits during the slice (T_io).
    public var exitHandling: Nanoseconds
    /// Why the slice ended.
    public var end: SliceEnd

    /// A report.
    public init(guestTime: Nanoseconds, exitHandling: Nanoseconds, end: SliceEnd) {
        self.guestTime = guestTime
        self.exitHandling = exitHandling
        self.end = end
    }
}

/// Why a slice ended.
public enum SliceEnd: Sendable, Equatable {
    /// The slice's time ran out.
    case sliceExpired
    /// ``SchedulableVCPU/preempt()`` was called.
    case preempted
    /// The guest halted (HLT) and waits for an interrupt.
    case halted
    /// The vCPU waits for I/O that the VMM completes asynchronously.
    case waitingForIO
    /// The vCPU was stopped by its owner or the guest shut down; it will not run again.
    case stopped
    /// Running failed (an error of the run loop); it will not run again.
    case failed

    /// What to tell the policy: still runnable, or blocked; `nil` when the vCPU will never run
    /// again (remove it from the policy after accounting it as blocked).
    public var outcome: SliceOutcome? {
        switch self {
        case .sliceExpired, .preempted: return .preempted
        case .halted, .waitingForIO: return .blocked
        case .stopped, .failed: return nil
        }
    }
}
