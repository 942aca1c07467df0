import DeviceModel
import Synchronization
import Testing

/// The 16550 UART's registers, driven from the host side.
@Suite struct Serial16550Registers {
    func write(_ serial: Serial16550, _ offset: UInt16, _ value: UInt8) {
        [value].withUnsafeBytes { serial.write(port: 0x3f8 + offset, offset: offset, from: $0) }
    }

    func read(_ serial: Serial16550, _ offset: UInt16) -> UInt8 {
        var byte: UInt8 = 0
        withUnsafeMutableBytes(of: &byte) { serial.read(port: 0x3f8 + offset, offset: offset, into: $0) }
        return byte
    }

    @Test func transmitReceiveAndLineStatus() {
        let capture = SerialCapture()
        let serial = Serial16550(output: capture.sink)
        #expect(read(serial, 5) & 0x60 == 0x60, "transmitter empty")
        #expect(read(serial, 5) & 0x01 == 0, "no data")
        write(serial, 0, UInt8(ascii: "A"))
        #expect(capture.text == "A")
        serial.enqueueInput([1, 2])
        #expect(read(serial, 5) & 0x01 == 1, "data ready")
        #expect(read(serial, 0) == 1)
        #expect(read(serial, 0) == 2)
        #expect(read(serial, 5) & 0x01 == 0)
        #expect(read(serial, 0) == 0, "reading an empty receiver gives 0")
    }

    @Test func divisorLatchScratchAndLoopback() {
        let capture = SerialCapture()
        let serial = Serial16550(output: capture.sink)
        write(serial, 3, 0x83)  // DLAB
        write(serial, 0, 0x01)
        write(serial, 1, 0x00)
        #expect(read(serial, 0) == 0x01 && read(serial, 1) == 0x00)
        write(serial, 3, 0x03)
        write(serial, 7, 0x5a)
        #expect(read(serial, 7) == 0x5a)
        // Loopback: transmitted bytes come back as input, never reach the output.
        write(serial, 4, 0x10 | 0x0b)
        write(serial, 0, 0x42)
        #expect(capture.data.isEmpty)
        #expect(read(serial, 0) == 0x42)
        #expect(read(serial, 6) & 0xf0 == 0xb0, "DCD, DSR, CTS mirror OUT2, DTR, RTS")
    }

    @Test func interruptsFollowIER() {
        let raised = Atomic<Int>(0)
        let serial = Serial16550(output: { _ in }, interrupt: { raised.add(1, ordering: .relaxed) })
        serial.enqueueInput([9])
        #expect(raised.load(ordering: .relaxed) == 0, "receive interrupt disabled")
        write(serial, 1, 0x01)  // enable receive-data interrupt
        #expect(read(serial, 2) & 0x0f == 0x04, "IIR: received data available")
        serial.enqueueInput([10])
        #expect(raised.load(ordering: .relaxed) == 1)
        _ = read(serial, 0)
        // Data remains after the first read: the (edge) interrupt is raised again.
        #expect(raised.load(ordering: .relaxed) == 2)
        _ = read(serial, 0)
        #expect(raised.load(ordering: .relaxed) == 2)
        #expect(read(serial, 2) & 0x0f == 0x01, "IIR: nothing pending")
        write(serial, 1, 0x03)  // also transmitter-empty
        #expect(raised.load(ordering: .relaxed) == 3)
        #expect(read(serial, 2) & 0x0f == 0x02, "IIR: transmitter empty")
        #expect(read(serial, 2) & 0x0f == 0x01, "reading IIR cleared it")
    }
}
