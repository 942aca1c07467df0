import KVM
import TestSupport
import Testing

extension KVMTests {
    /// Exits and controls a VMM drives by hand: single-stepping reports every instruction as a
    /// debug exit at the next one; with user-space MSRs, an RDMSR/WRMSR of an MSR KVM does not
    /// know comes to the VMM, which completes it with a value (the guest sees it) or fails it
    /// (the guest takes #GP); the TSC frequency reads back as set.
    @Suite struct Exits {
        @Test(.enabled(if: hostHas(.setGuestDebug), "host lacks KVM_CAP_SET_GUEST_DEBUG"))
        func singleStepStopsAfterEveryInstruction() throws {
            let machine = try TestMachine()
            // mov ax, 1; inc ax; inc ax; hlt
            try machine.loadRealMode([0xB8, 0x01, 0x00, 0x40, 0x40, 0xF4])
            var debug = GuestDebug()
            debug.control = 0x1 | 0x2  // KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP
            try machine.vcpu.setGuestDebug(debug)
            for (pc, ax) in [(UInt64(0x1003), UInt64(1)), (0x1004, 2), (0x1005, 3)] {
                let exit = try machine.runToExit()
                guard case .debug(let exception, let at, _, _) = exit else {
                    Issue.record("expected a debug exit at 0x\(String(pc, radix: 16)), got \(exit)")
                    return
                }
                #expect(exception == 1 && at == pc, "#DB at 0x\(String(at, radix: 16))")
                #expect(try machine.vcpu.registers().rax & 0xFFFF == ax)
            }
            try machine.vcpu.setGuestDebug(GuestDebug())
            guard case .hlt = try machine.runToExit() else {
                Issue.record("expected HLT once stepping is off")
                return
            }
        }

        /// `mov ecx, 0x1234; rdmsr; out 0x10, eax; wrmsr; hlt`, and a #GP handler (IVT entry
        /// 13) `mov al, 13; out 0x11, al; hlt` at 0x1100.
        func userSpaceMSRMachine() throws -> TestMachine {
            let machine = try TestMachine()
            // KVM_MSR_EXIT_REASON_UNKNOWN: accesses to MSRs KVM does not handle exit.
            try machine.vm.enable(.x86UserSpaceMsr, arguments: [1 << 1])
            try machine.ram.write([0xB0, 0x0D, 0xE6, 0x11, 0xF4], at: 0x1100)
            try machine.ram.write([0x00, 0x11, 0x00, 0x00], at: 13 * 4)
            try machine.loadRealMode(
                [0x66, 0xB9, 0x34, 0x12, 0x00, 0x00, 0x0F, 0x32, 0x66, 0xE7, 0x10, 0x0F, 0x30, 0xF4]
            ) { $0.rsp = 0x3000 }
            return machine
        }

        @Test(.enabled(if: hostHas(.x86UserSpaceMsr), "host lacks KVM_CAP_X86_USER_SPACE_MSR"))
        func anMSRKVMDoesNotKnowIsCompletedByTheVMM() throws {
            let machine = try userSpaceMSRMachine()
            var exit = try machine.runToExit()
            guard case .msrRead(let read) = exit else {
                Issue.record("expected an MSR read exit, got \(exit)")
                return
            }
            #expect(read.index == 0x1234)
            read.complete(value: 0x1122_3344_5566_7788)
            exit = try machine.runToExit()
            guard case .io(let io) = exit else {
                Issue.record("expected the OUT of the value read, got \(exit)")
                return
            }
            #expect(io.port == 0x10 && io.value == 0x5566_7788, "EAX holds the low half")
            exit = try machine.runToExit()
            guard case .msrWrite(let write) = exit else {
                Issue.record("expected an MSR write exit, got \(exit)")
                return
            }
            #expect(write.index == 0x1234 && write.data == 0x1122_3344_5566_7788, "EDX:EAX as read")
            write.complete()
            exit = try machine.runToExit()
            guard case .hlt = exit else {
                Issue.record("expected HLT, got \(exit)")
                return
            }
        }

        @Test(.enabled(if: hostHas(.x86UserSpaceMsr), "host lacks KVM_CAP_X86_USER_SPACE_MSR"))
        func anMSRAccessTheVMMFailsRaisesGP() throws {
            let machine = try userSpaceMSRMachine()
            var exit = try machine.runToExit()
            guard case .msrRead(let read) = exit else {
                Issue.record("expected an MSR read exit, got \(exit)")
                return
            }
            read.fail()
            exit = try machine.runToExit()
            guard case .io(let io) = exit else {
                Issue.record("expected the #GP handler's OUT, got \(exit)")
                return
            }
            #expect(io.port == 0x11 && io.value == 13)
        }

        @Test func theTSCFrequencyReadsBackAsSet() throws {
            let machine = try TestMachine()
            let khz = try machine.vcpu.tscKHz()
            #expect(khz > 0)
            // The host's own frequency is always accepted.
            try machine.vcpu.setTSCKHz(khz)
            #expect(try machine.vcpu.tscKHz() == khz)
            try whenAvailable(machine.kvm.has(.tscControl), "TSC scaling", missing: "no KVM_CAP_TSC_CONTROL") {
                try machine.vcpu.setTSCKHz(khz / 2)
                #expect(try machine.vcpu.tscKHz() == khz / 2)
            }
        }
    }
}
