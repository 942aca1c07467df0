import BlockStorage
import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import ResourceAllocator
import TestSupport
import Testing
import VCPU
import VHD

/// Real KVM: the queue-notify register is an ioeventfd, the completion an irqfd into the
/// in-kernel PIC, and a guest waiting in HLT wakes up on it.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct KVMInterruptTests {
    /// 64-bit guest, entered with r15 = virtio-mmio base, rdi = available ring, r14 = the
    /// request's status byte, r13 = used ring (source: GNU as, Intel syntax):
    /// ```
    /// main: mov al, 0x11; out 0x20, al      # PIC ICW1
    ///       mov al, 0x20; out 0x21, al      # ICW2: vectors 0x20–0x27
    ///       mov al, 0x04; out 0x21, al      # ICW3
    ///       mov al, 0x01; out 0x21, al      # ICW4: 8086 mode
    ///       mov al, 0xdf; out 0x21, al      # unmask IRQ 5 only
    ///       mov word ptr [rdi + 4], 0       # avail.ring[0] = descriptor 0
    ///       mov word ptr [rdi + 2], 1       # avail.idx = 1
    ///       mov dword ptr [r15 + 0x50], 0   # QueueNotify (ioeventfd: no exit)
    ///       sti; hlt                        # wait for the completion interrupt
    ///       movzx eax, byte ptr [r14]; mov dx, 0x600; out dx, eax   # the status byte
    ///       movzx eax, word ptr [r13 + 2]; out dx, eax              # and used.idx, to a free port
    ///   1:  cli; hlt; jmp 1b
    /// ```
    static let main: [UInt8] = [
        0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xdf,
        0xe6, 0x21, 0x66, 0xc7, 0x47, 0x04, 0x00, 0x00, 0x66, 0xc7, 0x47, 0x02, 0x01, 0x00, 0x41, 0xc7, 0x47, 0x50,
        0x00, 0x00, 0x00, 0x00, 0xfb, 0xf4, 0x41, 0x0f, 0xb6, 0x06, 0x66, 0xba, 0x00, 0x06, 0xef, 0x41, 0x0f, 0xb7,
        0x45, 0x02, 0xef, 0xfa, 0xf4, 0xeb, 0xfc,
    ]
    /// The interrupt handler at main + 0x100:
    /// `push rax; mov eax, [r15 + 0x60]; mov [r15 + 0x64], eax` (read InterruptStatus, write
    /// InterruptACK) `; mov al, 0x20; out 0x20, al` (PIC EOI) `; pop rax; iretq`
    static let handler: [UInt8] = [
        0x50, 0x41, 0x8b, 0x47, 0x60, 0x41, 0x89, 0x47, 0x64, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0x48, 0xcf,
    ]

    @Test func guestWaitingInHLTWakesOnTheCompletionInterrupt() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.dynamic, in: directory)
        let block = try VirtioBlockDevice(disk: disk, queueSize: 8)
        let fixture = try KVMVirtioFixture(
            backend: block, interrupt: try EventFD(nonBlocking: true), loopName: "kvm-interrupt-test")
        let (placement, transport, memory, mmio, loop) = (
            fixture.placement, fixture.transport, fixture.memory, fixture.mmio, fixture.loop
        )
        #expect(placement.gsi == 5)
        #expect(placement.mmioBase >= fixture.layout.configuration.mmio32Start)

        // The host plays firmware for the set-up (features, queue 0), then hands the guest a
        // prepared read request: header, 512 bytes of data, status.
        let descriptors: UInt64 = 0x20000, available: UInt64 = 0x21000, used: UInt64 = 0x22000
        let header: UInt64 = 0x23000, data: UInt64 = 0x24000, status: UInt64 = 0x25000
        func reg(_ offset: UInt64, _ value: UInt32) {
            withUnsafeBytes(of: value.littleEndian) {
                transport.write(address: placement.mmioBase + offset, offset: offset, from: $0)
            }
        }
        reg(VirtioMMIORegister.status, 3)
        reg(VirtioMMIORegister.driverFeaturesSelect, 1)
        reg(VirtioMMIORegister.driverFeatures, 1)  // VERSION_1
        reg(VirtioMMIORegister.status, 11)
        try #require(transport.status.contains(.featuresOK))
        reg(VirtioMMIORegister.queueSelect, 0)
        reg(VirtioMMIORegister.queueSize, 8)
        reg(VirtioMMIORegister.queueDescriptorLow, UInt32(descriptors))
        reg(VirtioMMIORegister.queueDriverLow, UInt32(available))
        reg(VirtioMMIORegister.queueDeviceLow, UInt32(used))
        reg(VirtioMMIORegister.queueReady, 1)
        reg(VirtioMMIORegister.status, 15)
        try memory.write(UInt32(0), at: GuestAddress(header))  // IN
        try memory.write(UInt64(5), at: GuestAddress(header + 8))  // sector 5
        try memory.write(UInt8(0xff), at: GuestAddress(status))
        let chain: [(UInt64, UInt32, UInt16)] = [(header, 16, 1), (data, 512, 1 | 2), (status, 1, 2)]
        for (i, d) in chain.enumerated() {
            let base = GuestAddress(descriptors + 16 * UInt64(i))
            try memory.write(d.0, at: base)
            try memory.write(d.1, at: GuestAddress(base.rawValue + 8))
            try memory.write(d.2, at: GuestAddress(base.rawValue + 12))
            try memory.write(UInt16(i + 1), at: GuestAddress(base.rawValue + 14))
        }

        // Guest code, its IDT (vector 0x25 = PIC base 0x20 + IRQ 5) and registers.
        let code: UInt64 = 0x10000, idt: UInt64 = 0x1000
        try memory.write(contentsOf: Self.main, at: GuestAddress(code))
        try memory.write(contentsOf: Self.handler, at: GuestAddress(code + 0x100))
        let vector = 0x20 + UInt64(placement.gsi)
        let gate = GuestAddress(idt + 16 * vector)
        let target = code + 0x100
        try memory.write(UInt16(truncatingIfNeeded: target), at: gate)
        try memory.write(UInt16(X86BootLayout().codeIndex << 3), at: GuestAddress(gate.rawValue + 2))
        try memory.write(UInt16(0x8e00), at: GuestAddress(gate.rawValue + 4))  // present, DPL 0, 64-bit interrupt gate
        try memory.write(UInt16(truncatingIfNeeded: target >> 16), at: GuestAddress(gate.rawValue + 6))
        try memory.write(UInt32(truncatingIfNeeded: target >> 32), at: GuestAddress(gate.rawValue + 8))

        let vcpu = try fixture.longModeVCPU(entry: code)
        var sregs = try vcpu.specialRegisters()
        sregs.idt.base = idt
        sregs.idt.limit = 256 * 16 - 1
        try vcpu.setSpecialRegisters(sregs)
        var regs = try vcpu.registers()
        regs.r15 = placement.mmioBase
        regs.rdi = available
        regs.r14 = status
        regs.r13 = used
        try vcpu.setRegisters(regs)

        // Port 0x600 has no device: the guest's two OUTs after HLT are unclaimed port-I/O exits,
        // which is all the test needs to know that it woke up.
        let runner = VCPURunner(vcpu: vcpu, mmio: mmio)
        try runner.start()
        // Hang guard only: the guest writes twice after the interrupt, then halts for good.
        let deadline = Date().addingTimeInterval(60)
        while runner.statistics.count(.ioOut) < 2 && Date() < deadline && runner.state == .running { usleep(1000) }
        _ = runner.stop()

        #expect(runner.statistics.count(.ioOut) == 2, "the guest ran past HLT")
        #expect(runner.unclaimedAccesses == 2)
        #expect(try memory.read(UInt8.self, at: GuestAddress(status)) == 0, "request status OK")
        #expect(try memory.read(UInt16.self, at: GuestAddress(used + 2)) == 1, "used.idx")
        #expect(try memory.read(UInt32.self, at: GuestAddress(used + 4)) == 0, "used element id")
        #expect(try memory.readBytes(count: 512, at: GuestAddress(data)) == pattern(offset: 5 * 512, count: 512))
        // The notify went through the ioeventfd (no MMIO write exit for it); the handler's
        // InterruptStatus read and InterruptACK write are the only MMIO exits.
        #expect(runner.statistics.count(.mmioWrite) == 1)
        #expect(runner.statistics.count(.mmioRead) == 1)
        #expect(transport.statistics.notifications >= 1 && loop.dispatched >= 1)
        #expect(transport.interruptStatus == 0, "the guest acknowledged the interrupt")
        #expect(block.statistics.byType[.read] == 1)
        withExtendedLifetime(fixture) {}  // the loop served the device until here
    }
}
