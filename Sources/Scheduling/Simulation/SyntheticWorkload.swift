import HostSupport

/// One step of a synthetic vCPU's life.
public enum WorkloadPhase: Sendable, Equatable {
    /// Runs in the guest for this long (needs a CPU; counts as T_cpu).
    case guest(Nanoseconds)
    /// The VMM handles an exit of this vCPU for this long (needs a CPU; counts as T_io).
    case exitHandling(Nanoseconds)
    /// Off the run queue for this long (waiting for I/O, halted until an interrupt).
    case blocked(Nanoseconds)

    var length: Nanoseconds {
        switch self {
        case .guest(let n), .exitHandling(let n), .blocked(let n): return n
        }
    }

    func with(length: Nanoseconds) -> WorkloadPhase {
        switch self {
        case .guest: return .guest(length)
        case .exitHandling: return .exitHandling(length)
        case .blocked: return .blocked(length)
        }
    }
}

/// How a synthetic vCPU behaves over time.
public enum WorkloadPattern: Sendable, Equatable {
    /// Always wants to run (a guest spinning).
    case cpuBound
    /// These phases in order, then again from the start when `repeating`, else the vCPU halts
    /// for good.
    case phases([WorkloadPhase], repeating: Bool)
    /// Random CPU bursts, each followed by an exit handled for a random time and a random
    /// I/O wait (uniform in each range; ranges may include 0 to skip the step). Seeded by the
    /// simulation's seed and the vCPU's position in the workload.
    case bursty(
        burst: ClosedRange<Nanoseconds>, exitHandling: ClosedRange<Nanoseconds>, ioWait: ClosedRange<Nanoseconds>)
}

/// A vCPU of a synthetic workload.
public struct SimulatedVCPU: Sendable, Equatable {
    /// The vCPU.
    public var id: VCPUID
    /// What the policy is told about it.
    public var parameters: SchedulingParameters
    /// When the vCPU first becomes runnable.
    public var arrival: Nanoseconds
    /// How it behaves.
    public var pattern: WorkloadPattern

    /// A vCPU that arrives at `arrival` (CPU-bound unless told otherwise).
    public init(
        _ id: VCPUID, parameters: SchedulingParameters = SchedulingParameters(), arrival: Nanoseconds = 0,
        pattern: WorkloadPattern = .cpuBound
    ) {
        self.id = id
        self.parameters = parameters
        self.arrival = arrival
        self.pattern = pattern
    }
}

/// The phases of one simulated vCPU, generated lazily and buffered for look-ahead.
struct PhaseQueue: Sendable {
    private let pattern: WorkloadPattern
    private var generator: SplitMix64
    private var listPosition = 0
    private var randomStep = 0
    private var buffer: [WorkloadPhase] = []
    private var head = 0

    init(pattern: WorkloadPattern, seed: UInt64, stream: UInt64) {
        self.pattern = pattern
        self.generator = SplitMix64(seed: seed, stream: stream)
    }

    /// The phase `offset` steps ahead (0 = current), or `nil` after the last one.
    mutating func phase(at offset: Int) -> WorkloadPhase? {
        while buffer.count - head <= offset {
            guard let next = generate() else { return nil }
            buffer.append(next)
        }
        return buffer[head + offset]
    }

    /// Shortens the current phase to `remaining` (> 0).
    mutating func setRemaining(_ remaining: Nanoseconds) {
        buffer[head] = buffer[head].with(length: remaining)
    }

    /// Finishes the current phase.
    mutating func advance() {
        head += 1
        if head >= 64 && head * 2 >= buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
    }

    /// The next phase of the pattern with a non-zero length, or `nil` when it has ended.
    private mutating func generate() -> WorkloadPhase? {
        switch pattern {
        case .cpuBound:
            return .guest(.max)
        case .phases(let list, let repeating):
            guard list.contains(where: { $0.length > 0 }) else { return nil }
            while true {
                if listPosition == list.count {
                    guard repeating else { return nil }
                    listPosition = 0
                }
                let phase = list[listPosition]
                listPosition += 1
                if phase.length > 0 { return phase }
            }
        case .bursty(let burst, let handling, let wait):
            guard burst.upperBound > 0 || handling.upperBound > 0 else { return nil }
            while true {
                let step = randomStep
                randomStep = (randomStep + 1) % 3
                let phase: WorkloadPhase
                switch step {
                case 0: phase = .guest(UInt64.random(in: burst, using: &generator))
                case 1: phase = .exitHandling(UInt64.random(in: handling, using: &generator))
                default: phase = .blocked(UInt64.random(in: wait, using: &generator))
                }
                if phase.length > 0 { return phase }
            }
        }
    }
}
