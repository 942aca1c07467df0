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
            #expect(throws: KVMError.self) { try vm.irqChipState(chip: 0) }
            _ = try vm.createVCPU(id: 0)
            // Creating a full IRQ chip on top is refused by the kernel.
            #expect(throws: KVMError.self) { try vm.createIRQChip() }
        }

        @Test func interruptWithoutInKernelChip() throws {
            let machine = try TestMachine()
            try machine.vcpu.interrupt(vector: 0x20)
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
