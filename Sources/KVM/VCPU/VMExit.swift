/// Why `KVM_RUN` returned, decoded from `kvm_run`, with its payload.
///
/// Payloads that point into the shared `kvm_run` area (port-I/O data, MMIO data, MSR exits) are
/// valid only until the vCPU runs again; answer an IN, an MMIO read or an MSR read by writing
/// into them before the next ``KVMVirtualCPU/run()``.
public enum VMExit {
    /// Port I/O (`KVM_EXIT_IO`).
    case io(IOExit)
    /// A guest access to an address no memory slot backs, or a write to a read-only slot
    /// (`KVM_EXIT_MMIO`).
    case mmio(MMIOExit)
    /// The guest executed HLT with no in-kernel local APIC to wait in (`KVM_EXIT_HLT`).
    case hlt
    /// Triple fault or similar (`KVM_EXIT_SHUTDOWN`): the guest cannot continue.
    case shutdown
    /// A system-level request from the guest (`KVM_EXIT_SYSTEM_EVENT`).
    case systemEvent(SystemEvent)
    /// VM entry failed; `hardwareReason` is the VMX/SVM failure code (`KVM_EXIT_FAIL_ENTRY`).
    case failEntry(hardwareReason: UInt64, cpu: UInt32)
    /// KVM could not handle an exit (`KVM_EXIT_INTERNAL_ERROR`): emulation failure and similar.
    case internalError(suberror: UInt32, data: [UInt64])
    /// `KVM_RUN` returned with `EINTR` (a signal, or `immediate_exit` set) or `KVM_EXIT_INTR`:
    /// nothing happened in the guest that needs handling.
    case interrupted
    /// A debug exception with guest debugging enabled (`KVM_EXIT_DEBUG`).
    case debug(exception: UInt32, pc: UInt64, dr6: UInt64, dr7: UInt64)
    /// The guest can take an interrupt now (`KVM_EXIT_IRQ_WINDOW_OPEN`).
    case irqWindowOpen
    /// A RDMSR that KVM forwards to user space (`KVM_EXIT_X86_RDMSR`): answer with
    /// ``MSRExit/complete(value:)`` or ``MSRExit/fail()``.
    case msrRead(MSRExit)
    /// A WRMSR that KVM forwards to user space (`KVM_EXIT_X86_WRMSR`).
    case msrWrite(MSRExit)
    /// An exception KVM reflects to user space (`KVM_EXIT_EXCEPTION`).
    case exception(vector: UInt32, errorCode: UInt32)
    /// A hypercall forwarded to user space (`KVM_EXIT_HYPERCALL`).
    case hypercall(number: UInt64, arguments: [UInt64])
    /// The guest signalled end of interrupt for a level-triggered vector with a split IRQ chip
    /// (`KVM_EXIT_IOAPIC_EOI`).
    case ioapicEOI(vector: UInt8)
    /// A vCPU dirty ring is full (`KVM_EXIT_DIRTY_RING_FULL`): harvest and reset, then re-run.
    case dirtyRingFull
    /// A split-lock was detected (`KVM_EXIT_X86_BUS_LOCK`).
    case busLock
    /// The guest stayed in a non-interruptible window too long (`KVM_EXIT_NOTIFY`).
    case notify(flags: UInt32)
    /// `KVM_EXIT_UNKNOWN`: the hardware exit reason KVM did not handle.
    case unknownHardware(reason: UInt64)
    /// An exit reason this library does not decode; never a trap.
    case unknown(reason: UInt32)
}

/// A port I/O exit. `data` holds `size × count` bytes inside `kvm_run`: the bytes an OUT wrote,
/// or where an IN's bytes go.
public struct IOExit {
    /// Whether the guest read or wrote the port.
    public enum Direction: Sendable {
        /// IN, INS: the guest reads; fill ``IOExit/data``.
        case `in`
        /// OUT, OUTS: the guest wrote ``IOExit/data``.
        case out
    }

    /// IN or OUT.
    public let direction: Direction
    /// The port the guest accessed.
    public let port: UInt16
    /// Bytes per access: 1, 2 or 4.
    public let size: Int
    /// Number of accesses (more than 1 for string I/O: `rep outsb` and friends).
    public let count: Int
    /// The data area, `size × count` bytes, valid until the next run.
    public let data: UnsafeMutableRawBufferPointer

    /// The value of a single (non-string) access, little-endian: the value an OUT wrote.
    public var value: UInt32 {
        var result: UInt32 = 0
        for i in 0..<min(size, 4) { result |= UInt32(data[i]) << (8 * i) }
        return result
    }

    /// Answers a single IN with `value` (the low `size` bytes).
    public func setValue(_ value: UInt32) {
        for i in 0..<min(size, 4, data.count) { data[i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}

/// An MMIO exit: a guest load or store of 1 to 8 bytes at `address`.
public struct MMIOExit {
    /// The guest physical address of the access.
    public let address: UInt64
    /// Whether the guest stored (`true`) or loaded (`false`).
    public let isWrite: Bool
    /// The access's bytes (1–8), inside `kvm_run`: what the guest stored, or where a load's
    /// answer goes.
    public let data: UnsafeMutableRawBufferPointer

    /// The access size in bytes (1–8).
    public var length: Int { data.count }

    /// The stored value, little-endian.
    public var value: UInt64 {
        var result: UInt64 = 0
        for i in 0..<data.count { result |= UInt64(data[i]) << (8 * i) }
        return result
    }

    /// Answers a load with `value` (the low `length` bytes, little-endian).
    public func setValue(_ value: UInt64) {
        for i in 0..<data.count { data[i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}

/// A user-space MSR access (`KVM_CAP_X86_USER_SPACE_MSR`).
public struct MSRExit {
    let run: UnsafeMutablePointer<kvm_run>
    /// `KVM_MSR_EXIT_REASON_*`: why KVM forwarded the access (unknown MSR, filter, invalid).
    public let reason: UInt32
    /// The MSR's index (ECX of the RDMSR or WRMSR).
    public let index: UInt32
    /// For a write, the value the guest wrote.
    public let data: UInt64

    /// Completes a read with `value`, or acknowledges a write.
    public func complete(value: UInt64 = 0) { ckvm_run_msr_complete(run, 0, value) }

    /// Makes the access fail: the guest gets #GP.
    public func fail() { ckvm_run_msr_complete(run, 1, 0) }
}

/// A system event (`KVM_EXIT_SYSTEM_EVENT`).
public struct SystemEvent: Hashable, Sendable {
    /// The event type (`KVM_SYSTEM_EVENT_*`).
    public enum Kind: Hashable, Sendable {
        /// `KVM_SYSTEM_EVENT_SHUTDOWN`: the guest asked to power off.
        case shutdown
        /// `KVM_SYSTEM_EVENT_RESET`: the guest asked to reset.
        case reset
        /// `KVM_SYSTEM_EVENT_CRASH`: the guest reported a crash (for example a Hyper-V crash MSR).
        case crash
        /// `KVM_SYSTEM_EVENT_WAKEUP`: a suspended vCPU has a wake-up event (Arm64 PSCI).
        case wakeup
        /// `KVM_SYSTEM_EVENT_SUSPEND`: the guest asked to suspend the system (Arm64 PSCI).
        case suspend
        /// `KVM_SYSTEM_EVENT_SEV_TERM`: an AMD SEV-ES guest asked to terminate.
        case sevTerminate
        /// Any other type, with its number.
        case other(UInt32)
    }

    /// What the guest asked for.
    public let kind: Kind
    /// Architecture-specific words (`ndata` of them).
    public let data: [UInt64]

    init(type: UInt32, data: [UInt64]) {
        switch Int32(type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN: kind = .shutdown
        case KVM_SYSTEM_EVENT_RESET: kind = .reset
        case KVM_SYSTEM_EVENT_CRASH: kind = .crash
        case KVM_SYSTEM_EVENT_WAKEUP: kind = .wakeup
        case KVM_SYSTEM_EVENT_SUSPEND: kind = .suspend
        case KVM_SYSTEM_EVENT_SEV_TERM: kind = .sevTerminate
        default: kind = .other(type)
        }
        self.data = data
    }
}
