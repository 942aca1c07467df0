import HostSupport
import KVM
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension KVMTests {
    @Suite(.usesKVM) struct EventFDs {
        @Test func eventFDCounts() throws {
            let fd = try EventFD()
            #expect(try fd.read() == nil)
            try fd.signal(2)
            try fd.signal(3)
            #expect(try fd.wait(timeoutMilliseconds: 0))
            #expect(try fd.read() == 5)
            #expect(try fd.read() == nil)
        }

        @Test func ioEventFDFiresInsteadOfExiting() throws {
            let machine = try TestMachine()
            let port = try EventFD()
            let doorbell = try EventFD()
            // Port 0x500 matches only the value 7; MMIO 0x9000 any 4-byte write.
            try machine.vm.registerIoEventFD(port, address: .pio(0x500), length: 1, dataMatch: 7)
            try machine.vm.registerIoEventFD(doorbell, address: .mmio(0x9000), length: 4)
            try machine.loadRealMode(Guest.ioEvents)

            // The write of 7 went to the eventfd; the write of 8 did not match and exits.
            guard case .io(let io) = try machine.runToExit() else { Issue.record("expected OUT"); return }
            #expect(io.port == 0x500 && io.value == 8)
            #expect(try port.read() == 1)
            // The MMIO doorbell write never reaches user space.
            guard case .hlt = try machine.runToExit() else { Issue.record("expected HLT"); return }
            #expect(try doorbell.read() == 1)

            try machine.vm.unregisterIoEventFD(port, address: .pio(0x500), length: 1, dataMatch: 7)
            try machine.vm.unregisterIoEventFD(doorbell, address: .mmio(0x9000), length: 4)
        }

        @Test func irqFDRaisesTheLineInTheInKernelPIC() throws {
            let machine = try TestMachine { vm in try vm.createIRQChip() }
            let irq = try EventFD()
            try machine.vm.registerIRQFD(irq, gsi: 5)
            #expect(try machine.vm.irqChipState(chip: 0).chip.pic.irr & (1 << 5) == 0)
            try irq.signal()
            // Injection runs asynchronously in the kernel: wait for the PIC's request register.
            var raised = false
            for _ in 0..<1000 where !raised {
                raised = try machine.vm.irqChipState(chip: 0).chip.pic.irr & (1 << 5) != 0
                if !raised { usleep(1000) }
            }
            #expect(raised, "IRQ 5 never reached the PIC's IRR")
            try machine.vm.unregisterIRQFD(irq, gsi: 5)
            // After unregistering, a signal raises nothing more: IRQ 3 stays clear as well.
            try irq.signal()
            #expect(try machine.vm.irqChipState(chip: 0).chip.pic.irr & (1 << 3) == 0)
            // Level-triggered irqfds with resample, routed MSIs and KVM_SIGNAL_MSI are proved by a
            // guest that takes them: VCPUTests' InterruptDeliveryTests.
        }

        @Test func anIRQLineRaisesThePICRequest() throws {
            let machine = try TestMachine { vm in try vm.createIRQChip() }
            #expect(try machine.vm.irqChipState(chip: 0).chip.pic.irr & (1 << 3) == 0)
            try machine.vm.setIRQLine(3, active: true)
            #expect(try machine.vm.irqChipState(chip: 0).chip.pic.irr & (1 << 3) != 0)
            try machine.vm.setIRQLine(3, active: false)
            // An MSI route with a GSI beyond the chip's pins is accepted; a route to a GSI the
            // kernel cannot take is refused with the exact error.
            try machine.vm.setGSIRouting(GSIRoute.defaultX86 + [.msi(gsi: 24, address: 0xfee0_0000, data: 0x41)])
            #expect(throws: KVMError.systemCall(operation: "KVM_SET_GSI_ROUTING", errno: .invalidArgument)) {
                try machine.vm.setGSIRouting([.msi(gsi: 1 << 20, address: 0xfee0_0000, data: 0x41)])
            }
        }

        @Test(.enabled(if: hostHas(.coalescedMmio), "host lacks KVM_CAP_COALESCED_MMIO"))
        func coalescedMMIOBuffersWrites() throws {
            let machine = try TestMachine()
            try machine.vm.registerCoalescedMMIO(address: 0x8000, size: 0x100)
            try machine.loadRealMode(Guest.mmio)
            // The two writes to 0x8000 and 0x8010 are buffered; the read of 0x8020 exits.
            guard case .mmio(let read) = try machine.runToExit() else { Issue.record("expected MMIO read"); return }
            #expect(!read.isWrite && read.address == 0x8020)
            let writes = machine.vcpu.drainCoalescedMMIO()
            #expect(writes.map(\.address) == [0x8000, 0x8010])
            #expect(writes.map(\.data) == [[0x5a], [0x34, 0x12]])
            #expect(machine.vcpu.drainCoalescedMMIO() == [])
            try machine.vm.unregisterCoalescedMMIO(address: 0x8000, size: 0x100)
        }
    }
}
