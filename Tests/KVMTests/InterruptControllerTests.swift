import KVM
import Testing

extension KVMTests {
    @Suite struct InterruptControllers {
        @Test(.enabled(if: hostHas(.splitIrqchip), "host lacks KVM_CAP_SPLIT_IRQCHIP"))
        func splitIRQChipAndUserSpaceInterrupt() throws {
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            try vm.setIdentityMapAddress(0xfffb_c000)
            try vm.createSplitIRQChip(ioapicPins: 24)
            // With the PIC and IOAPIC in user space there is no in-kernel PIC to read.
            #expect(throws: KVMError.systemCall(operation: "KVM_GET_IRQCHIP", errno: .noSuchAddressOrDevice)) {
                try vm.irqChipState(chip: 0)
            }
            _ = try vm.createVCPU(id: 0)
            // Creating a full IRQ chip on top is refused by the kernel.
            #expect(throws: KVMError.systemCall(operation: "KVM_CREATE_IRQCHIP", errno: .fileExists)) {
                try vm.createIRQChip()
            }
        }

        /// Real mode: `sti; 1: hlt; jmp 1b` at 0x1000, and the handler of vector 0x20 (IVT entry
        /// at 0x80) `mov al, 0x42; out 0x10, al; hlt` at 0x1100.
        @Test func interruptWithoutInKernelChip() throws {
            let machine = try TestMachine()
            try machine.ram.write([0xFB, 0xF4, 0xEB, 0xFD], at: 0x1000)
            try machine.ram.write([0xB0, 0x42, 0xE6, 0x10, 0xF4], at: 0x1100)
            try machine.ram.write([0x00, 0x11, 0x00, 0x00], at: 0x20 * 4)  // offset 0x1100, segment 0
            try machine.vcpu.enterRealMode(at: 0x1000) { $0.rsp = 0x3000 }  // the interrupt pushes FLAGS, CS, IP
            // Without an in-kernel chip HLT comes back to user space …
            guard case .hlt = try machine.runToExit() else {
                Issue.record("expected HLT")
                return
            }
            // … and the interrupt user space queues is taken on the next entry.
            try machine.vcpu.interrupt(vector: 0x20)
            let exit = try machine.runToExit()
            guard case .io(let io) = exit else {
                Issue.record("expected the handler's OUT, got \(exit)")
                return
            }
            #expect(io.port == 0x10 && io.value == 0x42 && io.direction == .out)
            // With an in-kernel chip the same request is refused (ENXIO).
            let chipped = try TestMachine { vm in try vm.createIRQChip() }
            #expect(throws: KVMError.systemCall(operation: "KVM_INTERRUPT", errno: .noSuchAddressOrDevice)) {
                try chipped.vcpu.interrupt(vector: 0x20)
            }
        }

        @Test func irqChipAndPITStateRoundTrip() throws {
            let machine = try TestMachine { vm in
                try vm.createIRQChip()
                try vm.createPIT2()
            }
            var ioapic = try machine.vm.irqChipState(chip: 2)
            ioapic.chip.ioapic.id = 3
            try machine.vm.setIRQChipState(ioapic)
            #expect(try machine.vm.irqChipState(chip: 2).chip.ioapic.id == 3)

            var pit = try machine.vm.pitState()
            pit.channels.0.count = 0x1234
            try machine.vm.setPITState(pit)
            #expect(try machine.vm.pitState().channels.0.count == 0x1234)
        }
    }
}
