import DeviceModel
import GuestMemory
import KVM
import TestSupport
import Testing
import VCPU

extension VCPUTests {
    @Suite struct X86Modes {
        /// 32-bit: `mov eax, 0x12345678; mov dx, 0x20; out dx, eax; hlt`
        static let protectedModeGuest: [UInt8] = [0xb8, 0x78, 0x56, 0x34, 0x12, 0x66, 0xba, 0x20, 0x00, 0xef, 0xf4]

        func run(_ vcpu: KVMVirtualCPU) throws -> (VCPUOutcome, [UInt32]) {
            let recorder = RecorderDevice()
            let bus = PortIOBus()
            try bus.insert(recorder, base: 0x20, size: 4)
            let runner = VCPURunner(vcpu: vcpu, portIO: bus)
            try runner.start()
            return (runner.waitUntilStopped(), recorder.recorded)
        }

        @Test func protectedModeGuest() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.memory.write(contentsOf: Self.protectedModeGuest, at: GuestAddress(0x10000))
            try X86Setup.configureProtectedMode(vcpu, memory: machine.memory, entry: 0x10000, stackPointer: 0x8000)
            let (outcome, values) = try run(vcpu)
            #expect(outcome == .halted)
            #expect(values == [0x1234_5678])
            let sregs = try vcpu.specialRegisters()
            #expect(sregs.cr0 & 1 == 1 && sregs.cr0 & 0x8000_0000 == 0, "PE without paging")
            #expect(sregs.cs.db == 1 && sregs.cs.l == 0, "32-bit code segment")
        }

        /// 64-bit: `mov eax, esi; mov dx, 0x20; out dx, eax; mov eax, cs; out dx, eax;
        /// mov eax, ds; out dx, eax; mov eax, ss; out dx, eax; hlt`
        static let linux64Guest: [UInt8] = [
            0x89, 0xf0, 0x66, 0xba, 0x20, 0x00, 0xef, 0x8c, 0xc8, 0xef, 0x8c, 0xd8, 0xef, 0x8c, 0xd0, 0xef, 0xf4,
        ]

        /// Linux's 64-bit boot protocol: the guest finds the zero page in RSI, CS = `__BOOT_CS`
        /// (0x10), DS = SS = `__BOOT_DS` (0x18), interrupts off, and the 4 GiB identity map.
        @Test func linux64BootProtocolEntry() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.memory.write(contentsOf: Self.linux64Guest, at: GuestAddress(0x10000))
            try X86Setup.configureLinux64(vcpu, memory: machine.memory, entry: 0x10000, zeroPage: GuestAddress(0x7000))
            #expect(try vcpu.registers().rflags & 0x200 == 0, "interrupts disabled")
            #expect(try vcpu.translate(0xffff_f000).physicalAddress == 0xffff_f000, "4 GiB identity-mapped")
            let (outcome, values) = try run(vcpu)
            #expect(outcome == .halted)
            #expect(values == [0x7000, 0x10, 0x18, 0x18])
        }

        /// 32-bit: `mov eax, ebx; mov dx, 0x20; out dx, eax; mov eax, cs; out dx, eax;
        /// mov eax, cr0; out dx, eax; mov eax, cr4; out dx, eax; hlt`
        static let pvhGuest: [UInt8] = [
            0x89, 0xd8, 0x66, 0xba, 0x20, 0x00, 0xef, 0x8c, 0xc8, 0xef, 0x0f, 0x20, 0xc0, 0xef, 0x0f, 0x20, 0xe0,
            0xef, 0xf4,
        ]

        /// The PVH entry: EBX holds the `hvm_start_info`, 32-bit protected mode with paging and
        /// every CR4 feature off, a flat 32-bit code segment.
        @Test func pvhEntry() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.memory.write(contentsOf: Self.pvhGuest, at: GuestAddress(0x10000))
            try X86Setup.configurePVH(vcpu, memory: machine.memory, entry: 0x10000, startInfo: GuestAddress(0x6000))
            let (outcome, values) = try run(vcpu)
            #expect(outcome == .halted)
            try #require(values.count == 4)
            #expect(values[0] == 0x6000 && values[1] == 0x08, "EBX, CS")
            #expect(values[2] & 1 == 1 && values[2] & 0x8000_0000 == 0, "CR0: PE, no PG")
            #expect(values[3] == 0, "CR4")
            #expect(try vcpu.specialRegisters().cs.db == 1)
            #expect(throws: X86SetupError.invalidLayout("the hvm_start_info at 0x100000000 is above 4 GiB")) {
                try X86Setup.configurePVH(
                    vcpu, memory: machine.memory, entry: 0x10000, startInfo: GuestAddress(1 << 32))
            }
        }

        /// A boot layout whose GDT cannot be built is refused before anything is written.
        @Test func impossibleBootLayoutsAreRefused() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            #expect(throws: X86SetupError.invalidLayout("GDT indices 2, 2, 4: each 1 to 15, all different")) {
                try X86Setup.configureLongMode(
                    vcpu, memory: machine.memory, entry: 0x10000,
                    layout: X86BootLayout(codeIndex: 2, dataIndex: 2, tssIndex: 4))
            }
            #expect(throws: X86SetupError.invalidLayout("GDT indices 0, 2, 3: each 1 to 15, all different")) {
                try X86Setup.configureLongMode(
                    vcpu, memory: machine.memory, entry: 0x10000, layout: X86BootLayout(codeIndex: 0))
            }
            #expect(throws: X86SetupError.invalidLayout("the GDT (0x500, 5 entries) overlaps the IDT at 0x520")) {
                try X86Setup.configureLongMode(
                    vcpu, memory: machine.memory, entry: 0x10000, layout: X86BootLayout(tssIndex: 4))
            }
            #expect(try machine.memory.readBytes(count: 0x40, at: GuestAddress(0x500)).allSatisfy { $0 == 0 })
        }

        static var hostHasOneGiBPages: Bool {
            let extended = (try? KVMSystem().supportedCPUID())?.entry(function: 0x8000_0001)
            return (extended?.edx ?? 0) & (1 << 26) != 0
        }

        @Test(.enabled(if: hostHasOneGiBPages, "this host's KVM does not offer 1 GiB pages (CPUID pdpe1gb)"))
        func longModeWithOneGiBPages() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.memory.write(contentsOf: Guest.apicSum, at: GuestAddress(0x10000))
            try X86Setup.configureLongMode(
                vcpu, memory: machine.memory, entry: 0x10000, identityMap: 4 << 30, pageSize: .oneGiB)
            let (outcome, values) = try run(vcpu)
            #expect(outcome == .halted)
            #expect(values == [triangle(100)])
            // The tables map 4 GiB: a high address translates to itself.
            #expect(try vcpu.translate(0xc000_1234).physicalAddress == 0xc000_1234)
        }

        @Test func identityMapCoversTheRequestedSize() throws {
            let machine = try TestVM(ramSize: 4 << 20)
            let vcpu = try machine.makeVCPU(id: 0)
            try X86Setup.configureLongMode(vcpu, memory: machine.memory, entry: 0x10000, identityMap: 3 << 30)
            for address: UInt64 in [0, 0x1f_ffff, 0x4000_0000, 0xbfff_f000] {
                let t = try vcpu.translate(address)
                #expect(t.valid && t.physicalAddress == address, "0x\(String(address, radix: 16))")
            }
            #expect(try !vcpu.translate(0xc000_0000).valid, "beyond the 3 GiB map")
            #expect(throws: X86SetupError.invalidIdentityMapSize(0)) {
                try IdentityPageTables(size: 0)
            }
        }

        @Test func bootMSRsFPUAndLAPIC() throws {
            let machine = try TestVM(irqChip: .full)
            let vcpu = try machine.makeVCPU(id: 0)
            try X86Setup.configureBootMSRs(vcpu)
            try X86Setup.configureFPU(vcpu)
            try X86Setup.configureLAPIC(vcpu)
            let msrs = try vcpu.msrs([MSRIndex.miscEnable, MSRIndex.mtrrDefType])
            #expect(msrs.map(\.data) == [1, (1 << 11) | 6])
            #expect(try vcpu.fpu().fcw == 0x37f)
            let lapic = try vcpu.lapic()
            let lint0 = withUnsafeBytes(of: lapic.regs) { $0.load(fromByteOffset: 0x350, as: UInt32.self) }
            let lint1 = withUnsafeBytes(of: lapic.regs) { $0.load(fromByteOffset: 0x360, as: UInt32.self) }
            #expect((lint0 >> 8) & 7 == 7, "LINT0 delivers ExtINT")
            #expect((lint1 >> 8) & 7 == 4, "LINT1 delivers NMI")
        }

        @Test func cpuidTopologyLeaves() throws {
            let kvm = try KVMSystem()
            let entries = try CPUIDBuilder.entries(
                from: kvm.supportedCPUID(), apicID: 5, topology: CPUTopology(threadsPerCore: 2, coresPerPackage: 4))
            let leaf1 = try #require(entries.entry(function: 1))
            #expect(leaf1.ebx >> 24 == 5)
            #expect((leaf1.ebx >> 16) & 0xff == 8)
            #expect(leaf1.ecx & (1 << 31) != 0, "hypervisor bit")
            let hypervisor = try #require(entries.entry(function: 0x4000_0000))
            #expect(hypervisor.ebx == 0x4b4d_564b)  // "KVMK"
            if let smt = entries.entry(function: 0xb, index: 0), let core = entries.entry(function: 0xb, index: 1) {
                #expect(smt.eax == 1 && smt.ebx == 2 && smt.edx == 5)
                #expect(core.eax == 3 && core.ebx == 8 && (core.ecx >> 8) & 0xff == 2)
            }
        }
    }

    @Suite struct Statistics {
        @Test func histogramQuantiles() {
            let stats = ExitStatistics()
            for ns: UInt64 in [100, 200, 300, 5000] { stats.record(.ioOut, nanoseconds: ns) }
            let summary = stats.summary(.ioOut)
            #expect(summary.count == 4 && summary.totalNanoseconds == 5600)
            #expect(summary.meanNanoseconds == 1400)
            #expect(summary.quantileUpperBound(0.5) == 255)  // 200 is in [128, 256)
            #expect(summary.quantileUpperBound(1.0) == 8191)  // 5000 is in [4096, 8192)
            #expect(stats.summaries.map(\.kind) == [.ioOut])
        }
    }
}
