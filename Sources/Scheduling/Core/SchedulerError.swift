/// Errors of the scheduling policies and the simulator.
public enum SchedulerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The vCPU was never added to the policy (or was removed).
    case unknownVCPU(VCPUID)
    /// The vCPU was already added.
    case duplicateVCPU(VCPUID)
    /// A parameter is out of range; the message says which and why.
    case invalidParameters(String)
    /// The operation is not allowed in the vCPU's current state (for example waking a vCPU
    /// that is already runnable, or accounting one that is not running).
    case invalidTransition(VCPUID, operation: String, state: VCPURunState)

    /// A one-line English description naming the vCPU, parameter or transition at fault.
    public var description: String {
        switch self {
        case .unknownVCPU(let id): return "unknown vCPU \(id)"
        case .duplicateVCPU(let id): return "vCPU \(id) added twice"
        case .invalidParameters(let message): return "invalid scheduling parameters: \(message)"
        case .invalidTransition(let id, let operation, let state):
            return "\(operation) not allowed for vCPU \(id) while \(state)"
        }
    }
}

/// Where a vCPU is, from a policy's point of view.
public enum VCPURunState: Sendable, Equatable, CustomStringConvertible {
    /// Not on the run queue: halted, waiting for I/O, throttled by a cap, or never woken.
    case blocked
    /// On the run queue, waiting for a CPU.
    case runnable
    /// Picked by ``SchedulingPolicy/pickNext(at:)`` and not yet accounted.
    case running

    /// `blocked`, `runnable` or `running`.
    public var description: String {
        switch self {
        case .blocked: return "blocked"
        case .runnable: return "runnable"
        case .running: return "running"
        }
    }
}
