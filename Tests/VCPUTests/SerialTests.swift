import DeviceModel
import GuestMemory
import Synchronization
import TestSupport
import Testing
import VCPU

extension VCPUTests {
    @Suite struct SerialGuest {
        /// 16-bit: three times, wait for LSR.DR, read RBR, add one, write THR; then hlt:
        /// `mov cx, 3; 2: mov dx, 0x3fd; 1: in al, dx; test al, 1; jz 1b; mov dx, 0x3f8;
        /// in al, dx; inc al; out dx, al; loop 2b; hlt`
        static let echoPlusOne: [UInt8] = [
            0xb9, 0x03, 0x00, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0xba, 0xf8, 0x03, 0xec, 0xfe,
            0xc0, 0xee, 0xe2, 0xef, 0xf4,
        ]

        @Test func guestReadsHostInput() throws {
            let machine = try TestVM(ramSize: 0x10000)
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.startRealMode(vcpu, code: Self.echoPlusOne)
            let capture = SerialCapture()
            let serial = Serial16550(output: capture.sink)
            serial.enqueueInput(Array("abc".utf8))
            let bus = PortIOBus()
            try bus.insert(serial, base: 0x3f8, size: 8)
            let runner = VCPURunner(vcpu: vcpu, portIO: bus)
            try runner.start()
            #expect(runner.waitUntilStopped() == .halted)
            #expect(capture.text == "bcd")
        }
    }
}
