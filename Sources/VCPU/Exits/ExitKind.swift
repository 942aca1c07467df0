import KVM

/// The kind of a ``VMExit`` without its payload: what exit statistics are kept by.
public enum ExitKind: Int, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case ioIn, ioOut, mmioRead, mmioWrite, hlt, shutdown, systemEvent, failEntry, internalError
    case interrupted, debug, irqWindowOpen, msrRead, msrWrite, exception, hypercall, ioapicEOI
    case dirtyRingFull, busLock, notify, unknownHardware, unknown

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
