import KVM
import Synchronization
import Testing
import VCPU

/// A vCPU that replays scripted exits: unknown and failing exits cannot be provoked on demand
/// in a real guest, so the run loop's handling of them is checked against this stand-in.
final class ScriptedVCPU: VirtualCPUHandle {
    enum Step: Sendable {
        case exit(@Sendable () -> VMExit)
        case fail(KVMError)
    }

    let id: UInt64 = 0
    private let steps: Mutex<[Step]>
    private let flag = Atomic<Bool>(false)

    init(_ steps: [Step]) { self.steps = Mutex(steps) }

    func run() throws(KVMError) -> VMExit {
        if flag.load(ordering: .sequentiallyConsistent) { return .interrupted }
        let step = steps.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        switch step {
        case .exit(let make): return make()
        case .fail(let error): throw error
        case nil: return .hlt
        }
    }

    var immediateExit: Bool {
        get { flag.load(ordering: .sequentiallyConsistent) }
        set { flag.store(newValue, ordering: .sequentiallyConsistent) }
    }

    func registers() throws(KVMError) -> Registers { Registers() }
    func setRegisters(_ registers: Registers) throws(KVMError) {}
    func specialRegisters() throws(KVMError) -> SpecialRegisters { SpecialRegisters() }
    func setSpecialRegisters(_ registers: SpecialRegisters) throws(KVMError) {}
}

@Suite struct FailingExits {
    func outcome(of steps: [ScriptedVCPU.Step], handler: (any VCPUExitHandler)? = nil) throws -> VCPUOutcome {
        let runner = VCPURunner(vcpu: ScriptedVCPU(steps), handler: handler)
        try runner.start()
        return runner.waitUntilStopped()
    }

    @Test func unknownExitIsATypedError() throws {
        let result = try outcome(of: [.exit { .unknown(reason: 999) }])
        #expect(result == .failed(.unhandledExit(.unknown, detail: "exit reason 999")))
    }

    @Test func failEntryAndInternalErrorAreTypedErrors() throws {
        #expect(
            try outcome(of: [.exit { .failEntry(hardwareReason: 0x21, cpu: 0) }])
                == .failed(.failEntry(hardwareReason: 0x21)))
        #expect(
            try outcome(of: [.exit { .internalError(suberror: 1, data: [7]) }])
                == .failed(.internalError(suberror: 1, data: [7])))
        #expect(
            try outcome(of: [.exit { .unknownHardware(reason: 0x30) }])
                == .failed(.unhandledExit(.unknownHardware, detail: "hardware exit reason 0x30")))
    }

    @Test func kvmFailureEndsTheRunWithItsErrno() throws {
        let error = KVMError.systemCall(operation: "KVM_RUN", errno: .badAddress)
        #expect(try outcome(of: [.fail(error)]) == .failed(.kvm(error)))
    }

    @Test func systemEventsEndTheRun() throws {
        #expect(try outcome(of: [.exit { .shutdown }]) == .shutdown)
        #expect(try outcome(of: [.exit { .interrupted }, .exit { .irqWindowOpen }]) == .halted)
    }

    @Test func handlerDecidesFirst() throws {
        struct StopOnHalt: VCPUExitHandler {
            func handle(_ exit: VMExit, vcpu: any VirtualCPUHandle) -> ExitAction {
                if case .hlt = exit { return .stop(.stoppedByHandler("guest idle")) }
                return .unhandled
            }
        }
        #expect(try outcome(of: [], handler: StopOnHalt()) == .stoppedByHandler("guest idle"))
        #expect(
            try outcome(of: [.exit { .unknown(reason: 5) }], handler: StopOnHalt())
                == .failed(.unhandledExit(.unknown, detail: "exit reason 5")))
    }
}
