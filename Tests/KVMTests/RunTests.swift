import KVM
import Testing

extension KVMTests {
    @Suite struct Run {
        @Test func portOutAndIn() throws {
            let machine = try TestMachine()
            try machine.loadRealMode(Guest.inAddOut)

            guard case .io(let input) = try machine.runToExit() else { Issue.record("expected IN"); return }
            #expect(input.direction == .in)
            #expect(input.port == 0x3f8)
            #expect(input.size == 1 && input.count == 1)
            input.setValue(41)  // the value the guest's IN receives

            guard case .io(let output) = try machine.runToExit() else { Issue.record("expected OUT"); return }
            #expect(output.direction == .out)
            #expect(output.port == 0x3f8)
            #expect(output.value == 42)

            guard case .hlt = try machine.runToExit() else { Issue.record("expected HLT"); return }
            #expect(try machine.vcpu.registers().rax & 0xff == 42)
        }

        @Test func smallestGuestPrintsFour() throws {
            let machine = try TestMachine()
            try machine.loadRealMode(Guest.addAndPrint) { regs in
                regs.rax = 2
                regs.rbx = 2
            }
            var printed: [UInt8] = []
            loop: while true {
                switch try machine.runToExit() {
                case .io(let io) where io.direction == .out && io.port == 0x3f8: printed.append(UInt8(io.value))
                case .hlt: break loop
                default: Issue.record("unexpected exit"); return
                }
            }
            #expect(String(decoding: printed, as: UTF8.self) == "4\n")
        }

        @Test func mmioReadAndWrite() throws {
            let machine = try TestMachine(ramSize: 0x4000)  // 0x8000 and above is unbacked: MMIO
            try machine.loadRealMode(Guest.mmio)

            guard case .mmio(let byteWrite) = try machine.runToExit() else { Issue.record("expected MMIO"); return }
            #expect(byteWrite.isWrite && byteWrite.address == 0x8000 && byteWrite.length == 1)
            #expect(byteWrite.value == 0x5a)

            guard case .mmio(let wordWrite) = try machine.runToExit() else { Issue.record("expected MMIO"); return }
            #expect(wordWrite.isWrite && wordWrite.address == 0x8010 && wordWrite.length == 2)
            #expect(wordWrite.value == 0x1234)

            guard case .mmio(let read) = try machine.runToExit() else { Issue.record("expected MMIO"); return }
            #expect(!read.isWrite && read.address == 0x8020 && read.length == 4)
            read.setValue(0xdead_beef)

            guard case .io(let out) = try machine.runToExit() else { Issue.record("expected OUT"); return }
            #expect(out.port == 0x10 && out.size == 4)
            #expect(out.value == 0xdead_beef)
            guard case .hlt = try machine.runToExit() else { Issue.record("expected HLT"); return }
        }

        @Test func longModeGuest() throws {
            let machine = try TestMachine(ramSize: 0x20_0000)
            let ram = machine.ram
            // Identity map the first 2 MiB: PML4 at 0x9000 → PDPT at 0xa000 → one 2 MiB page.
            try ram.write64(0xa000 | 0x3, at: 0x9000)
            try ram.write64(0xb000 | 0x3, at: 0xa000)
            try ram.write64(0x0 | 0x83, at: 0xb000)  // present, writable, 2 MiB page
            // GDT at 0x500: null, 64-bit code, data.
            try ram.write64(0, at: 0x500)
            try ram.write64(0x00af_9b00_0000_ffff, at: 0x508)
            try ram.write64(0x00cf_9300_0000_ffff, at: 0x510)
            try ram.write(Guest.longMode, at: 0x1000)

            var sregs = try machine.vcpu.specialRegisters()
            sregs.gdt.base = 0x500
            sregs.gdt.limit = 23
            var code = Segment()
            code.base = 0
            code.limit = 0xffff_ffff
            code.selector = 0x8
            code.type = 11
            code.present = 1
            code.s = 1
            code.l = 1
            code.g = 1
            var data = code
            data.selector = 0x10
            data.type = 3
            data.l = 0
            data.db = 1
            sregs.cs = code
            sregs.ds = data
            sregs.es = data
            sregs.fs = data
            sregs.gs = data
            sregs.ss = data
            sregs.cr3 = 0x9000
            sregs.cr4 = 1 << 5  // PAE
            sregs.cr0 = 0x8005_0033
            sregs.efer = 0x500  // LME | LMA
            try machine.vcpu.setSpecialRegisters(sregs)
            var regs = Registers()
            regs.rip = 0x1000
            regs.rflags = 0x2
            regs.rbx = 1
            regs.rsp = 0x8000
            try machine.vcpu.setRegisters(regs)

            guard case .io(let out) = try machine.runToExit() else { Issue.record("expected OUT"); return }
            #expect(out.port == 0x10 && out.size == 4)
            #expect(out.value == 0x5566_7789)
            guard case .hlt = try machine.runToExit() else { Issue.record("expected HLT"); return }
            // The full 64-bit sum proves the guest ran in long mode.
            #expect(try machine.vcpu.registers().rax == 0x1122_3344_5566_7789)
            #expect(try machine.vcpu.specialRegisters().efer & 0x400 != 0)
            // The guest's page tables translate virtual to physical one to one.
            let translation = try machine.vcpu.translate(0x1234)
            #expect(translation.valid && translation.physicalAddress == 0x1234)
        }

        @Test func immediateExitReturnsAtOnce() throws {
            let machine = try TestMachine()
            try machine.loadRealMode(Guest.spin)
            machine.vcpu.immediateExit = true
            #expect(machine.vcpu.immediateExit)
            for _ in 0..<3 {
                guard case .interrupted = try machine.vcpu.run() else { Issue.record("expected interrupted"); return }
            }
            // The guest never ran.
            #expect(try machine.vcpu.registers().rip == 0x1000)
            machine.vcpu.immediateExit = false
            #expect(!machine.vcpu.immediateExit)
        }
    }
}
