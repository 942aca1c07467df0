import KVM

/// The kind of a ``KVM/VMExit`` without its payload: what exit statistics are kept by.
///
/// One case per `VMExit` case, with port I/O and MMIO split by direction. The raw values are
/// dense from 0 in declaration order (``ExitStatistics`` indexes its counters by them).
public enum ExitKind: Int, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// A port read (IN, INS).
    case ioIn
    /// A port write (OUT, OUTS).
    case ioOut
    /// An MMIO load.
    case mmioRead
    /// An MMIO store.
    case mmioWrite
    /// HLT with no in-kernel local APIC (`KVM_EXIT_HLT`).
    case hlt
    /// Triple fault or similar (`KVM_EXIT_SHUTDOWN`).
    case shutdown
    /// A system event: reset, power-off, crash … (`KVM_EXIT_SYSTEM_EVENT`).
    case systemEvent
    /// VM entry failed (`KVM_EXIT_FAIL_ENTRY`).
    case failEntry
    /// KVM could not handle an exit (`KVM_EXIT_INTERNAL_ERROR`).
    case internalError
    /// `KVM_RUN` returned without a guest exit to handle: a kick, a signal, `KVM_EXIT_INTR`.
    case interrupted
    /// A debug exception with guest debugging enabled (`KVM_EXIT_DEBUG`).
    case debug
    /// The guest can take an interrupt (`KVM_EXIT_IRQ_WINDOW_OPEN`).
    case irqWindowOpen
    /// A RDMSR forwarded to user space (`KVM_EXIT_X86_RDMSR`).
    case msrRead
    /// A WRMSR forwarded to user space (`KVM_EXIT_X86_WRMSR`).
    case msrWrite
    /// An exception reflected to user space (`KVM_EXIT_EXCEPTION`).
    case exception
    /// A hypercall forwarded to user space (`KVM_EXIT_HYPERCALL`).
    case hypercall
    /// End of interrupt for a level-triggered vector with a split IRQ chip (`KVM_EXIT_IOAPIC_EOI`).
    case ioapicEOI
    /// A dirty ring is full (`KVM_EXIT_DIRTY_RING_FULL`).
    case dirtyRingFull
    /// A guest bus lock (`KVM_EXIT_X86_BUS_LOCK`).
    case busLock
    /// The guest stayed in a non-interruptible window too long (`KVM_EXIT_NOTIFY`).
    case notify
    /// An exit reason the hardware reported and KVM did not handle (`KVM_EXIT_UNKNOWN`).
    case unknownHardware
    /// An exit reason the KVM target does not decode.
    case unknown

    /// A short kebab-case name for tables and logs: `io-in`, `mmio-write`, `hlt` ….
    public var description: String {
        switch self {
        case .ioIn: "io-in"
        case .ioOut: "io-out"
        case .mmioRead: "mmio-read"
        case .mmioWrite: "mmio-write"
        case .hlt: "hlt"
        case .shutdown: "shutdown"
        case .systemEvent: "system-event"
        case .failEntry: "fail-entry"
        case .internalError: "internal-error"
        case .interrupted: "interrupted"
        case .debug: "debug"
        case .irqWindowOpen: "irq-window-open"
        case .msrRead: "msr-read"
        case .msrWrite: "msr-write"
        case .exception: "exception"
        case .hypercall: "hypercall"
        case .ioapicEOI: "ioapic-eoi"
        case .dirtyRingFull: "dirty-ring-full"
        case .busLock: "bus-lock"
        case .notify: "notify"
        case .unknownHardware: "unknown-hardware"
        case .unknown: "unknown"
        }
    }
}

extension VMExit {
    /// The exit's kind, for statistics.
    public var kind: ExitKind {
        switch self {
        case .io(let io): io.direction == .in ? .ioIn : .ioOut
        case .mmio(let mmio): mmio.isWrite ? .mmioWrite : .mmioRead
        case .hlt: .hlt
        case .shutdown: .shutdown
        case .systemEvent: .systemEvent
        case .failEntry: .failEntry
        case .internalError: .internalError
        case .interrupted: .interrupted
        case .debug: .debug
        case .irqWindowOpen: .irqWindowOpen
        case .msrRead: .msrRead
        case .msrWrite: .msrWrite
        case .exception: .exception
        case .hypercall: .hypercall
        case .ioapicEOI: .ioapicEOI
        case .dirtyRingFull: .dirtyRingFull
        case .busLock: .busLock
        case .notify: .notify
        case .unknownHardware: .unknownHardware
        case .unknown: .unknown
        }
    }
}
