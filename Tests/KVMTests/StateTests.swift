import KVM
import TestSupport
import Testing

extension KVMTests {
    /// Every get/set pair round-trips through the kernel.
    @Suite struct State {
        @Test func registersRoundTrip() throws {
            let machine = try TestMachine()
            var regs = Registers()
            regs.rax = 0x0123_4567_89ab_cdef
            regs.rbx = 1
            regs.rcx = 2
            regs.rdx = 3
            regs.rsi = 4
            regs.rdi = 5
            regs.rsp = 0x7000
            regs.rbp = 6
            regs.r8 = 8
            regs.r15 = 15
            regs.rip = 0x1234
            regs.rflags = 0x2
            try machine.vcpu.setRegisters(regs)
            #expect(sameBytes(try machine.vcpu.registers(), regs))
        }

        @Test func segmentsRoundTrip() throws {
            let machine = try TestMachine()
            var sregs = try machine.vcpu.specialRegisters()
            sregs.ds.base = 0x10000
            sregs.ds.selector = 0x1000
            sregs.es.base = 0x20000
            sregs.es.selector = 0x2000
            sregs.gdt.base = 0x500
            sregs.gdt.limit = 0x1f
            sregs.idt.base = 0x520
            sregs.idt.limit = 0xff
            try machine.vcpu.setSpecialRegisters(sregs)
            let back = try machine.vcpu.specialRegisters()
            #expect(sameBytes(back.ds, sregs.ds))
            #expect(sameBytes(back.es, sregs.es))
            #expect(back.gdt.base == 0x500 && back.gdt.limit == 0x1f)
            #expect(back.idt.base == 0x520 && back.idt.limit == 0xff)
        }

        @Test func fpuMSRsAndDebugRegistersRoundTrip() throws {
            let machine = try TestMachine()
            var fpu = try machine.vcpu.fpu()
            fpu.fcw = 0x27f
            withUnsafeMutableBytes(of: &fpu.xmm.0) { for i in 0..<16 { $0[i] = UInt8(i + 1) } }
            try machine.vcpu.setFPU(fpu)
            let fpuBack = try machine.vcpu.fpu()
            #expect(fpuBack.fcw == 0x27f)
            #expect(withUnsafeBytes(of: fpuBack.xmm.0) { Array($0) } == (1...16).map { UInt8($0) })
            // (This nested KVM reports mxcsr as 0 through KVM_GET_FPU; the XSAVE area has it.)

            try machine.vcpu.setMSRs([
                MSREntry(index: MSRIndex.star, data: 0x0023_0010_0000_0000),
                MSREntry(index: MSRIndex.lstar, data: 0xffff_ffff_8100_0000),
                MSREntry(index: MSRIndex.sysenterCS, data: 0x10),
            ])
            let msrs = try machine.vcpu.msrs([MSRIndex.star, MSRIndex.lstar, MSRIndex.sysenterCS])
            #expect(msrs.map(\.data) == [0x0023_0010_0000_0000, 0xffff_ffff_8100_0000, 0x10])
            // An MSR that does not exist is named in the error.
            #expect(throws: KVMError.msrNotAccepted(index: 0xdead_0000)) {
                try machine.vcpu.msrs([MSRIndex.star, 0xdead_0000])
            }

            var debug = try machine.vcpu.debugRegisters()
            debug.db.0 = 0x1000
            debug.db.3 = 0x4000
            try machine.vcpu.setDebugRegisters(debug)
            let debugBack = try machine.vcpu.debugRegisters()
            #expect(debugBack.db.0 == 0x1000 && debugBack.db.3 == 0x4000)
        }

        @Test func cpuidRoundTrip() throws {
            let machine = try TestMachine()
            var entries = try machine.kvm.supportedCPUID()
            // Mark the hypervisor bit, as a VMM does.
            if let i = entries.firstIndex(where: { $0.function == 1 }) { entries[i].ecx |= 1 << 31 }
            try machine.vcpu.setCPUID(entries)
            let back = try machine.vcpu.cpuid()
            #expect(back.count == entries.count)
            #expect(try #require(back.entry(function: 1)).ecx & (1 << 31) != 0)
        }

        @Test func lapicXSaveXCRsEventsAndMPState() throws {
            let machine = try TestMachine { vm in try vm.createIRQChip() }
            let vcpu = machine.vcpu
            var lapic = try vcpu.lapic()
            // Task priority register at 0x80.
            withUnsafeMutableBytes(of: &lapic.regs) {
                $0.storeBytes(of: UInt32(0x20), toByteOffset: 0x80, as: UInt32.self)
            }
            try vcpu.setLAPIC(lapic)
            let lapicBack = try vcpu.lapic()
            #expect(withUnsafeBytes(of: lapicBack.regs) { $0.load(fromByteOffset: 0x80, as: UInt32.self) } == 0x20)

            let xsave = try vcpu.xsave()
            #expect(xsave.bytes.count >= 4096)
            try vcpu.setXSave(xsave)
            #expect(try vcpu.xsave() == xsave)

            try whenAvailable(machine.kvm.has(.xcrs), "the XCR round trip", missing: "no KVM_CAP_XCRS on this host") {
                let xcrs = try vcpu.xcrs()
                try vcpu.setXCRs(xcrs)
                #expect(sameBytes(try vcpu.xcrs(), xcrs))
            }

            let events = try vcpu.events()
            try vcpu.setEvents(events)
            #expect(try vcpu.events().nmi.pending == events.nmi.pending)

            #expect(try vcpu.mpState() == .runnable)
            try vcpu.setMPState(.halted)
            #expect(try vcpu.mpState() == .halted)

            #expect(try vcpu.tscKHz() > 0)
            try vcpu.nmi()
            #expect(try vcpu.events().nmi.pending == 1)
        }

        @Test func signalMaskAndVMClock() throws {
            let machine = try TestMachine()
            try machine.vcpu.setSignalMask(blocking: [10, 12])
            try machine.vcpu.setSignalMask(blocking: nil)
            #expect(throws: KVMError.invalidArgument("signal 0 is out of range")) {
                try machine.vcpu.setSignalMask(blocking: [0])
            }
            var clock = try machine.vm.clock()
            clock.clock += 1_000_000_000
            clock.flags = 0
            try machine.vm.setClock(clock)
            #expect(try machine.vm.clock().clock >= clock.clock)
        }

        @Test(.enabled(if: hostHas(.syncRegs), "host lacks KVM_CAP_SYNC_REGS"))
        func syncRegistersMirrorTheExit() throws {
            let machine = try TestMachine()
            try machine.loadRealMode(Guest.addAndPrint) { regs in
                regs.rax = 3
                regs.rbx = 4
            }
            machine.vcpu.syncedRegisterSets = UInt64(KVM_SYNC_X86_REGS)
            guard case .io = try machine.runToExit() else { Issue.record("expected OUT"); return }
            // 3 + 4 + '0' = '7', visible in kvm_run without KVM_GET_REGS.
            #expect(machine.vcpu.syncRegisters.pointee.regs.rax & 0xff == 0x37)
        }
    }
}
