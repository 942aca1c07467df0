import KVM
import VCPU

/// Where a ``VirtualMachine`` is in its life: `created` → `running` ⇄ `paused` → `stopped`.
public enum VirtualMachineState: Sendable, Equatable, CustomStringConvertible {
    /// Built, not started.
    case created
    /// Its vCPUs run.
    case running
    /// Every vCPU is parked outside the guest (devices finish what they were serving).
    case paused
    /// Ended, for good: why.
    case stopped(VirtualMachineOutcome)

    /// `created`, `running`, `paused` or `stopped: <outcome>`.
    public var description: String {
        switch self {
        case .created: "created"
        case .running: "running"
        case .paused: "paused"
        case .stopped(let outcome): "stopped: \(outcome)"
        }
    }
}

/// Why a ``VirtualMachine`` stopped.
public enum VirtualMachineOutcome: Sendable, Equatable, CustomStringConvertible {
    /// How the guest asked to be reset.
    public enum ResetRequest: String, Sendable, Equatable {
        /// The i8042's reset line (Linux's `reboot=k`, its default).
        case keyboardController = "i8042 reset line"
        /// The ACPI reset register.
        case acpi = "ACPI reset register"
        /// A triple fault (`KVM_EXIT_SHUTDOWN`): a PC resets; Linux's `reboot=t`.
        case tripleFault = "triple fault"
    }

    /// The guest powered off (ACPI S5).
    case poweredOff
    /// The guest asked for a reset (a reboot, or a crash that resets).
    case reset(ResetRequest)
    /// A vCPU halted with no in-kernel LAPIC to wait in.
    case halted(vcpu: Int)
    /// A vCPU reported a system event (`KVM_EXIT_SYSTEM_EVENT`).
    case systemEvent(vcpu: Int, SystemEvent.Kind)
    /// The owner called ``VirtualMachine/stop()``.
    case stoppedByOwner
    /// KVM could not run an instruction (`KVM_EXIT_INTERNAL_ERROR`): the suberror, the vCPU's RIP
    /// and the instruction's bytes when KVM or the guest's page tables give them.
    case internalError(vcpu: Int, suberror: UInt32, rip: UInt64?, instruction: [UInt8]?)
    /// A vCPU's run loop failed otherwise.
    case failed(vcpu: Int, VCPUError)

    /// Whether the guest ended the run itself (power-off, reset, halt, system event) rather than
    /// the owner or an error.
    public var isGuestRequested: Bool {
        switch self {
        case .poweredOff, .reset, .halted, .systemEvent: true
        case .stoppedByOwner, .internalError, .failed: false
        }
    }

    /// One line, in the words a user looks for.
    public var description: String {
        switch self {
        case .poweredOff: "the guest powered off (ACPI S5)"
        case .reset(let request): "the guest requested a reboot (\(request.rawValue))"
        case .halted(let vcpu): "vCPU \(vcpu) halted"
        case .systemEvent(let vcpu, let kind): "vCPU \(vcpu) reported a system event: \(kind)"
        case .stoppedByOwner: "stopped by its owner"
        case .internalError(let vcpu, let suberror, let rip, let instruction):
            "KVM internal error on vCPU \(vcpu): suberror \(suberror)"
                + (suberror == 1 ? " (emulation failure)" : "")
                + (rip.map { " at RIP 0x\(String($0, radix: 16))" } ?? "")
                + (instruction.map { ", instruction bytes " + $0.map(Self.hex).joined(separator: " ") } ?? "")
        case .failed(let vcpu, let error): "vCPU \(vcpu) failed: \(error)"
        }
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }

    /// The outcome a vCPU's end gives (`nil` for a stop the VMM asked for). `instruction` reads
    /// the stopped vCPU's RIP and the bytes there, when it can.
    static func from(
        _ outcome: VCPUOutcome, vcpu: Int, instruction: () -> (rip: UInt64, bytes: [UInt8]?)?
    ) -> VirtualMachineOutcome? {
        switch outcome {
        case .halted: return .halted(vcpu: vcpu)
        case .shutdown: return .reset(.tripleFault)
        case .systemEvent(let kind): return .systemEvent(vcpu: vcpu, kind)
        case .stoppedByOwner: return nil
        case .stoppedByHandler(let why): return .failed(vcpu: vcpu, .unhandledExit(.unknown, detail: why))
        case .failed(.internalError(let suberror, let data)):
            let fromGuest = instruction()
            return .internalError(
                vcpu: vcpu, suberror: suberror, rip: fromGuest?.rip,
                instruction: emulationFailureBytes(suberror: suberror, data: data) ?? fromGuest?.bytes)
        case .failed(let error): return .failed(vcpu: vcpu, error)
        }
    }

    /// The instruction bytes of an emulation failure (`struct kvm_run.emulation_failure`, Linux
    /// 5.14+): `data[0]` holds the flags (bit 0: instruction bytes valid), then `insn_size` and up
    /// to 15 bytes. `nil` when KVM gave none.
    static func emulationFailureBytes(suberror: UInt32, data: [UInt64]) -> [UInt8]? {
        guard suberror == 1, data.count >= 3, data[0] & 1 != 0 else { return nil }
        let raw = withUnsafeBytes(of: (data[1], data[2])) { Array($0) }
        let size = Int(raw[0])
        guard (1...15).contains(size) else { return nil }
        return Array(raw[1...size])
    }
}

/// Why a ``VirtualMachine`` could not be built or could not change state.
public enum VirtualMachineError: Error, Sendable, CustomStringConvertible {
    /// The configuration did not validate (nothing was created).
    case invalidConfiguration(ConfigurationError)
    /// Building the VM failed at `step` ("guest memory", "kernel", "disk 0" …); whatever was
    /// created is released.
    case build(step: String, String)
    /// The operation does not apply in the current state.
    case invalidTransition(from: VirtualMachineState, action: String)
    /// A vCPU refused the operation.
    case vcpu(index: Int, VCPUError)
    /// Saving or restoring a snapshot failed; the string names the file and the reason.
    case snapshot(String)
    /// The shared dispatcher of a scheduling ``VMManager`` refused the VM's vCPUs or their
    /// share (the string says which vCPU and why).
    case scheduling(String)

    /// One line naming what failed.
    public var description: String {
        switch self {
        case .invalidConfiguration(let error): "\(error)"
        case .build(let step, let why): "building the VM (\(step)): \(why)"
        case .invalidTransition(let from, let action): "cannot \(action) a VM that is \(from)"
        case .vcpu(let index, let error): "vCPU \(index): \(error)"
        case .snapshot(let why): "snapshot: \(why)"
        case .scheduling(let why): "scheduling: \(why)"
        }
    }
}
