import GuestMemory
import HostSupport
import KVM
import TestSupport
import Testing
import VCPU

/// KVM's interrupt plumbing, proved by a guest that takes the interrupts: an MSI routed to a
/// GSI and raised through an irqfd, an MSI sent with `KVM_SIGNAL_MSI`, and a level-triggered
/// irqfd on the IOAPIC whose resample eventfd fires when the guest's handler ends the interrupt
/// (LAPIC EOI), after which the line can be raised again. Each handler counts in guest memory.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct InterruptDeliveryTests {
    /// `sti; 1: hlt; jmp 1b`
    static let main: [UInt8] = [0xFB, 0xF4, 0xEB, 0xFD]
    /// `inc dword ptr [counter]; push rax; mov eax, 0xfee000b0; mov dword ptr [rax], 0`
    /// (LAPIC EOI) `; pop rax; iretq` (GNU as, Intel syntax, 64-bit).
    static func handler(counter: UInt32) -> [UInt8] {
        [0xFF, 0x04, 0x25] + withUnsafeBytes(of: counter.littleEndian, Array.init)
            + [0x50, 0xB8, 0xB0, 0x00, 0xE0, 0xFE, 0xC7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x48, 0xCF]
    }

    static let code: UInt64 = 0x10000, idt: UInt64 = 0x1000, counters: UInt64 = 0x3000
    /// The vectors with a handler, each counting at `counters + 4 * index`.
    static let vectors: [UInt8] = [0x41, 0x42, 0x30]

    /// A 64-bit guest halted with interrupts enabled, an in-kernel IRQ chip, its LAPIC enabled
    /// and the PIC's line (LINT0) masked, so that only the IOAPIC and MSIs reach it.
    final class Guest {
        let machine: TestVM
        let runner: VCPURunner<KVMVirtualCPU>

        init() throws {
            machine = try TestVM(ramSize: 2 << 20, irqChip: .full)
            let memory = machine.memory
            try memory.write(contentsOf: InterruptDeliveryTests.main, at: GuestAddress(code))
            for (index, vector) in vectors.enumerated() {
                let handler = code + 0x40 * UInt64(index + 1)
                try memory.write(
                    contentsOf: InterruptDeliveryTests.handler(counter: UInt32(counters) + 4 * UInt32(index)),
                    at: GuestAddress(handler))
                let gate = idt + 16 * UInt64(vector)
                try memory.write(UInt16(truncatingIfNeeded: handler), at: GuestAddress(gate))
                try memory.write(UInt16(X86BootLayout().codeIndex << 3), at: GuestAddress(gate + 2))
                try memory.write(UInt16(0x8E00), at: GuestAddress(gate + 4))  // present 64-bit interrupt gate
                try memory.write(UInt16(truncatingIfNeeded: handler >> 16), at: GuestAddress(gate + 6))
                try memory.write(UInt32(truncatingIfNeeded: handler >> 32), at: GuestAddress(gate + 8))
            }
            let vcpu = try machine.vm.createVCPU(id: 0)
            try vcpu.setCPUID(
                try CPUIDBuilder.entries(
                    from: machine.kvm.supportedCPUID(), apicID: 0, topology: CPUTopology(coresPerPackage: 1)))
            try X86Setup.configureLongMode(
                vcpu, memory: memory, entry: code, stackPointer: 0x8000, identityMap: 1 << 32)
            try X86Setup.configureFPU(vcpu)
            try X86Setup.configureLAPIC(vcpu)
            var lapic = try vcpu.lapic()
            withUnsafeMutableBytes(of: &lapic.regs) { regs in
                regs.storeBytes(of: UInt32(0x1FF), toByteOffset: 0xF0, as: UInt32.self)  // SVR: enabled
                regs.storeBytes(of: UInt32(0), toByteOffset: 0x80, as: UInt32.self)  // TPR 0
                let lint0 = regs.load(fromByteOffset: 0x350, as: UInt32.self)
                regs.storeBytes(of: lint0 | 1 << 16, toByteOffset: 0x350, as: UInt32.self)  // LINT0 masked
            }
            try vcpu.setLAPIC(lapic)
            var sregs = try vcpu.specialRegisters()
            sregs.idt.base = idt
            sregs.idt.limit = 256 * 16 - 1
            try vcpu.setSpecialRegisters(sregs)
            runner = VCPURunner(vcpu: vcpu)
            try runner.start()
        }

        deinit { _ = runner.stop() }

        /// How many times the handler of `vector` ran.
        func count(_ vector: UInt8) throws -> UInt32 {
            let index = try #require(vectors.firstIndex(of: vector))
            return try machine.memory.read(UInt32.self, at: GuestAddress(counters + 4 * UInt64(index)))
        }

        /// Waits until the handler of `vector` has run `times` times (a hang guard bounds it).
        func waitForHandler(_ vector: UInt8, times: UInt32) throws {
            try waitUntil("vector 0x\(String(vector, radix: 16)) to be taken \(times) time(s)") {
                (try? count(vector)) == times || runner.state != .running
            }
            #expect(runner.state == .running, "the guest stopped: \(String(describing: runner.outcome))")
            #expect(try count(vector) == times)
        }
    }

    @Test func anMSIRoutedToAGSIIsRaisedThroughAnIRQFD() throws {
        let guest = try Guest()
        let vm = guest.machine.vm
        try vm.setGSIRouting(GSIRoute.defaultX86 + [.msi(gsi: 24, address: 0xFEE0_0000, data: 0x41)])
        let irq = try EventFD()
        try vm.registerIRQFD(irq, gsi: 24)
        for time in UInt32(1)...3 {
            try irq.signal()
            try guest.waitForHandler(0x41, times: time)
        }
        #expect(try guest.count(0x42) == 0 && guest.count(0x30) == 0, "only the routed vector")
        try vm.unregisterIRQFD(irq, gsi: 24)
    }

    @Test func signalMSIDeliversToTheGuest() throws {
        let guest = try Guest()
        // KVM_SIGNAL_MSI says whether the interrupt was delivered (its LAPIC accepted it).
        #expect(try guest.machine.vm.signalMSI(address: 0xFEE0_0000, data: 0x42))
        try guest.waitForHandler(0x42, times: 1)
        #expect(try guest.count(0x41) == 0)
    }

    @Test func aLevelTriggeredIRQFDIsResampledWhenTheGuestEndsTheInterrupt() throws {
        let guest = try Guest()
        let vm = guest.machine.vm
        // IOAPIC pin 10: vector 0x30, fixed, physical destination APIC 0, active high, level, unmasked.
        var ioapic = try vm.irqChipState(chip: 2)
        withUnsafeMutableBytes(of: &ioapic.chip.ioapic) { state in
            let entry = 24 + 8 * 10  // base_address, ioregsel, id, irr, pad, then 24 redirection entries
            state.storeBytes(of: UInt64(0x30 | 1 << 15), toByteOffset: entry, as: UInt64.self)
        }
        try vm.setIRQChipState(ioapic)
        let level = try EventFD(), resample = try EventFD(nonBlocking: true)
        try vm.registerIRQFD(level, gsi: 10, resample: resample)
        for time in UInt32(1)...3 {
            try level.signal()
            try guest.waitForHandler(0x30, times: time)
            // The guest's EOI reached the IOAPIC: the line was lowered and the resample eventfd
            // tells the device model to raise it again if it still needs service.
            try waitUntil("the resample eventfd after EOI \(time)") { (try? resample.read()) == 1 }
        }
        try vm.unregisterIRQFD(level, gsi: 10)
    }
}
