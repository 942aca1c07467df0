import KVM

/// The states of a vCPU's life, and the only transitions between them:
///
/// ```
/// created ──start──▶ running ──pause──▶ paused
///    │                │  ▲                │
///    │                │  └────resume──────┘
///    └──────stop──────┴──────stop/exit────┴──▶ stopped
/// ```
public enum VCPULifecycleState: String, Hashable, Sendable, CustomStringConvertible {
    /// The runner exists; its thread has not started.
    case created
    /// The vCPU thread runs the loop (in the guest or handling an exit).
    case running
    /// The vCPU thread is parked outside the guest, any pending I/O completed; its state can be
    /// read and changed.
    case paused
    /// The run loop has ended (see ``VCPURunner/outcome``); final.
    case stopped

    /// The state's name: `created`, `running`, `paused` or `stopped`.
    public var description: String { rawValue }

    /// Whether `action` may be applied in this state.
    func allows(_ action: VCPUAction) -> Bool {
        switch (self, action) {
        case (.created, .start), (.created, .stop): true
        case (.running, .pause), (.running, .stop): true
        case (.paused, .resume), (.paused, .stop): true
        case (.stopped, .stop): true  // stopping twice is harmless
        default: false
        }
    }
}

/// An owner's request to a vCPU.
public enum VCPUAction: String, Hashable, Sendable {
    /// Start the vCPU thread (``VCPURunner/start()``); allowed in `created`.
    case start
    /// Park the vCPU outside the guest (``VCPURunner/pause()``); allowed in `running`.
    case pause
    /// Let a paused vCPU run again (``VCPURunner/resume()``); allowed in `paused`.
    case resume
    /// End the run loop (``VCPURunner/stop()``); allowed in every state.
    case stop
}

/// Why a vCPU's run loop ended.
public enum VCPUOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The guest executed HLT with no in-kernel LAPIC to wait in.
    case halted
    /// The guest triple-faulted (`KVM_EXIT_SHUTDOWN`).
    case shutdown
    /// The guest asked for a reset, power-off or reported a crash.
    case systemEvent(SystemEvent.Kind)
    /// The owner called `stop()`.
    case stoppedByOwner
    /// An exit handler ended the run with this reason.
    case stoppedByHandler(String)
    /// The run failed; the error says why.
    case failed(VCPUError)

    /// A short phrase: `halted`, `stopped by owner`, `failed: …`.
    public var description: String {
        switch self {
        case .halted: "halted"
        case .shutdown: "shutdown"
        case .systemEvent(let kind): "system event \(kind)"
        case .stoppedByOwner: "stopped by owner"
        case .stoppedByHandler(let reason): "stopped: \(reason)"
        case .failed(let error): "failed: \(error)"
        }
    }
}

/// Errors of the VCPU target.
public enum VCPUError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A KVM operation failed.
    case kvm(KVMError)
    /// The action is not allowed in the vCPU's current state.
    case invalidTransition(from: VCPULifecycleState, action: VCPUAction)
    /// The vCPU thread could not be created (the errno of `pthread_create`).
    case threadCreation(Int32)
    /// VM entry failed (`KVM_EXIT_FAIL_ENTRY`) with this hardware reason.
    case failEntry(hardwareReason: UInt64)
    /// KVM reported an internal error (`KVM_EXIT_INTERNAL_ERROR`).
    case internalError(suberror: UInt32, data: [UInt64])
    /// An exit no handler took care of.
    case unhandledExit(ExitKind, detail: String)

    /// A one-line message.
    public var description: String {
        switch self {
        case .kvm(let error): "\(error)"
        case .invalidTransition(let from, let action): "cannot \(action.rawValue) a vCPU that is \(from)"
        case .threadCreation(let errno): "cannot create the vCPU thread (errno \(errno))"
        case .failEntry(let reason): "VM entry failed, hardware reason 0x\(String(reason, radix: 16))"
        case .internalError(let suberror, let data): "KVM internal error \(suberror), data \(data)"
        case .unhandledExit(let kind, let detail): "unhandled \(kind) exit: \(detail)"
        }
    }
}

/// What the run loop does after a handler looked at an exit.
public enum ExitAction: Sendable {
    /// Re-enter the guest.
    case resume
    /// End the run loop with this outcome.
    case stop(VCPUOutcome)
    /// This handler does not deal with the exit; the run loop's default applies.
    case unhandled
}

/// An embedder's hook for exits that are not port I/O or MMIO (those go to the buses):
/// HLT, MSR accesses, hypercalls, debug exits, system events…
///
/// The run loop calls it on the vCPU thread for every exit other than port I/O, MMIO and
/// interrupted runs, before its defaults: HLT, shutdown and system events end the run, MSR
/// accesses fail with #GP in the guest, IRQ-window and IOAPIC-EOI exits resume, anything else
/// ends the run with ``VCPUOutcome/failed(_:)``.
public protocol VCPUExitHandler: Sendable {
    /// Handles `exit` of `vcpu` and says what the run loop does next: ``ExitAction/unhandled``
    /// leaves the exit to the defaults.
    func handle(_ exit: VMExit, vcpu: any VirtualCPUHandle) -> ExitAction
}
