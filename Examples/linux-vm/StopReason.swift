import KVM
import VCPU

/// Why a Linux VM stopped: what the last line of `linux-vm` says, and its exit status.
enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// The guest pulsed the reset line through the i8042 (Linux's default way to reboot, and
    /// what it does after a panic with `panic=-1`).
    case rebootRequested
    /// The guest powered off through ACPI (S5 written to the power control port).
    case poweredOff
    /// The guest rebooted through the ACPI reset register.
    case acpiReset
    /// A vCPU triple-faulted (`KVM_EXIT_SHUTDOWN`): a PC resets, so this is a reboot too
    /// (`reboot=t`), or a kernel that crashed before it could print why.
    case tripleFault(vcpu: Int)
    /// A vCPU reported a system event (reset, shutdown, crash).
    case systemEvent(vcpu: Int, SystemEvent.Kind)
    /// A vCPU halted with no in-kernel LAPIC to wait in (never with this VM's IRQ chip).
    case halted(vcpu: Int)
    /// The run took longer than `--timeout`.
    case timeout(seconds: Double)
    /// KVM could not run an instruction (`KVM_EXIT_INTERNAL_ERROR`), with the failing
    /// instruction's bytes when KVM or the guest's page tables give them.
    case internalError(vcpu: Int, suberror: UInt32, rip: UInt64?, instruction: [UInt8]?)
    /// The vCPU's run loop failed otherwise.
    case failed(vcpu: Int, String)

    /// One line: what happened, in the words a user looks for.
    var description: String {
        switch self {
        case .rebootRequested: "the guest requested a reboot (i8042 reset line)"
        case .poweredOff: "the guest powered off (ACPI S5)"
        case .acpiReset: "the guest requested a reboot (ACPI reset register)"
        case .tripleFault(let vcpu): "vCPU \(vcpu) triple-faulted (KVM_EXIT_SHUTDOWN: a reset)"
        case .systemEvent(let vcpu, let kind): "vCPU \(vcpu) reported a system event: \(kind)"
        case .halted(let vcpu): "vCPU \(vcpu) halted"
        case .timeout(let seconds): "timeout after \(seconds) s (the guest was still running)"
        case .internalError(let vcpu, let suberror, let rip, let instruction):
            "KVM internal error on vCPU \(vcpu): suberror \(suberror)"
                + (suberror == 1 ? " (emulation failure)" : "")
                + (rip.map { " at RIP 0x\(String($0, radix: 16))" } ?? "")
                + (instruction.map { ", instruction bytes " + $0.map { hex($0) }.joined(separator: " ") } ?? "")
        case .failed(let vcpu, let why): "vCPU \(vcpu) failed: \(why)"
        }
    }

    /// 0 when the guest stopped itself (reboot, reset, shutdown), 2 on timeout, 1 for an error.
    var exitStatus: Int32 {
        switch self {
        case .rebootRequested, .poweredOff, .acpiReset, .tripleFault, .systemEvent, .halted: 0
        case .timeout: 2
        case .internalError, .failed: 1
        }
    }

    /// The reason a vCPU's outcome gives (`nil` for a stop the VMM asked for). `instruction`
    /// reads the stopped vCPU's RIP and the 15 bytes there, when it can.
    static func from(
        _ outcome: VCPUOutcome, vcpu: Int, instruction: () -> (rip: UInt64, bytes: [UInt8]?)?
    ) -> StopReason? {
        switch outcome {
        case .halted: return .halted(vcpu: vcpu)
        case .shutdown: return .tripleFault(vcpu: vcpu)
        case .systemEvent(let kind): return .systemEvent(vcpu: vcpu, kind)
        case .stoppedByOwner: return nil
        case .stoppedByHandler(let why): return .failed(vcpu: vcpu, why)
        case .failed(.internalError(let suberror, let data)):
            let fromGuest = instruction()
            return .internalError(
                vcpu: vcpu, suberror: suberror, rip: fromGuest?.rip,
                instruction: emulationFailureBytes(suberror: suberror, data: data) ?? fromGuest?.bytes)
        case .failed(let error): return .failed(vcpu: vcpu, "\(error)")
        }
    }

    /// The instruction bytes of an emulation failure (`struct kvm_run.emulation_failure`, Linux
    /// 5.14+): `data[0]` holds the flags (bit 0: instruction bytes valid), then `insn_size` and
    /// up to 15 bytes. `nil` when KVM gave none.
    static func emulationFailureBytes(suberror: UInt32, data: [UInt64]) -> [UInt8]? {
        guard suberror == 1, data.count >= 3, data[0] & 1 != 0 else { return nil }
        let raw = withUnsafeBytes(of: (data[1], data[2])) { Array($0) }
        let size = Int(raw[0])
        guard (1...15).contains(size) else { return nil }
        return Array(raw[1...size])
    }
}

/// `byte` as two lowercase hex digits.
func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return digits.count == 1 ? "0" + digits : digits
}
