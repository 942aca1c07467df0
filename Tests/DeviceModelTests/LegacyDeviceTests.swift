import DeviceModel
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Port helpers: one-byte IN and OUT at `offset` of a device.
func out(_ device: some PortIODevice, _ base: UInt16, _ offset: UInt16, _ value: UInt8) {
    [value].withUnsafeBytes { device.write(port: base + offset, offset: offset, from: $0) }
}

func inb(_ device: some PortIODevice, _ base: UInt16, _ offset: UInt16) -> UInt8 {
    var byte: UInt8 = 0
    withUnsafeMutableBytes(of: &byte) { device.read(port: base + offset, offset: offset, into: $0) }
    return byte
}

/// The i8042 as a kernel drives it: self-test and interface test pass, the command byte reads
/// back as written, keyboard commands are acknowledged (with their replies), there is no mouse,
/// replies wait in a bounded buffer, and pulsing the reset line — command 0xFE, or the output
/// port with bit 0 clear — reaches the VMM once per pulse, as a reboot request.
@Suite struct I8042ControllerTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func bump() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    func drain(_ controller: I8042Controller) -> [UInt8] {
        var bytes: [UInt8] = []
        while inb(controller, 0x60, 4) & 0x01 != 0 { bytes.append(inb(controller, 0x60, 0)) }
        return bytes
    }

    @Test func probesAndTestsPass() {
        let resets = Counter(), interrupts = Counter()
        let controller = I8042Controller(reset: resets.bump, interrupt: interrupts.bump)
        #expect(inb(controller, 0x60, 4) & 0x01 == 0, "nothing to read at first")
        out(controller, 0x60, 4, 0xAA)
        #expect(inb(controller, 0x60, 4) & 0x05 == 0x05, "output full, system flag")
        #expect(drain(controller) == [0x55], "self-test passed")
        out(controller, 0x60, 4, 0xAB)
        #expect(drain(controller) == [0x00], "interface test passed")
        out(controller, 0x60, 4, 0xA9)
        #expect(drain(controller) == [0xFF], "no auxiliary port")
        out(controller, 0x60, 4, 0x60)
        out(controller, 0x60, 0, 0x44)  // keyboard interrupt off
        out(controller, 0x60, 4, 0x20)
        #expect(drain(controller) == [0x44], "the command byte as written")
        for (command, replies) in [(UInt8(0xFF), [UInt8(0xFA), 0xAA]), (0xF2, [0xFA, 0xAB, 0x83]), (0xF4, [0xFA])] {
            out(controller, 0x60, 0, command)
            #expect(drain(controller) == replies, "keyboard command 0x\(String(command, radix: 16))")
        }
        out(controller, 0x60, 0, 0xED)  // set LEDs: ACK, then the argument, ACK
        out(controller, 0x60, 0, 0x07)
        #expect(drain(controller) == [0xFA, 0xFA])
        #expect(resets.count == 0)
        #expect(interrupts.count == 3, "IRQ 1 for the replies before the guest turned it off")
    }

    @Test func pulsingTheResetLineIsARebootRequest() {
        let resets = Counter()
        let controller = I8042Controller(reset: resets.bump)
        out(controller, 0x60, 4, 0xFE)
        #expect(resets.count == 1 && controller.resetRequests == 1)
        out(controller, 0x60, 4, 0xD1)
        out(controller, 0x60, 0, 0x03)  // reset line high: nothing
        #expect(resets.count == 1)
        out(controller, 0x60, 4, 0xD1)
        out(controller, 0x60, 0, 0x02)  // reset line low
        #expect(resets.count == 2 && controller.resetRequests == 2)
    }

    @Test func aGuestThatNeverReadsCannotGrowTheBuffer() {
        let controller = I8042Controller(reset: {})
        for _ in 0..<1000 { out(controller, 0x60, 0, 0xEE) }
        #expect(drain(controller) == [UInt8](repeating: 0xEE, count: I8042Controller.outputCapacity))
    }
}

/// The CMOS clock reads the time it is given in UTC, in BCD and 24-hour form by default, in
/// binary or 12-hour form when the guest asks, and keeps the rest of its 128 bytes as RAM.
@Suite struct CMOSClockTests {
    func register(_ clock: CMOSClock, _ index: UInt8) -> UInt8 {
        out(clock, 0x70, 0, index | 0x80)  // NMI-disable bit set: ignored
        return inb(clock, 0x70, 1)
    }

    @Test func theTimeInBCDBinaryAnd12HourForm() {
        // 2026-12-07 18:45:09 UTC, a Monday.
        var parts = tm()
        parts.tm_year = 2026 - 1900
        parts.tm_mon = 11
        parts.tm_mday = 7
        parts.tm_hour = 18
        parts.tm_min = 45
        parts.tm_sec = 9
        let seconds = Int(timegm(&parts))
        let clock = CMOSClock(now: { seconds })
        let bcd: [(UInt8, UInt8)] = [
            (0x00, 0x09), (0x02, 0x45), (0x04, 0x18), (0x06, 0x02), (0x07, 0x07), (0x08, 0x12), (0x09, 0x26),
            (0x32, 0x20),
        ]
        for (index, value) in bcd { #expect(register(clock, index) == value, "register 0x\(String(index, radix: 16))") }
        #expect(register(clock, 0x0A) & 0x80 == 0, "no update in progress")
        #expect(register(clock, 0x0D) == 0x80, "valid")
        out(clock, 0x70, 0, 0x0B)
        out(clock, 0x70, 1, 0x06)  // binary, 24-hour
        #expect(register(clock, 0x04) == 18 && register(clock, 0x09) == 26 && register(clock, 0x32) == 20)
        out(clock, 0x70, 0, 0x0B)
        out(clock, 0x70, 1, 0x00)  // BCD, 12-hour
        #expect(register(clock, 0x04) == 0x86, "6 PM")
    }

    @Test func theRestIsRAM() {
        let clock = CMOSClock(now: { 0 })
        out(clock, 0x70, 0, 0x40)
        out(clock, 0x70, 1, 0x5A)
        #expect(register(clock, 0x40) == 0x5A)
        out(clock, 0x70, 0, 0x0D)
        out(clock, 0x70, 1, 0x00)  // status D is read-only
        #expect(register(clock, 0x0D) == 0x80)
        #expect(register(clock, 0x09) == 0x70 && register(clock, 0x32) == 0x19, "1970 at time 0")
    }

    @Test func theHostClockByDefault() {
        let clock = CMOSClock()
        let before = Int(time(nil))
        let year = register(clock, 0x09), century = register(clock, 0x32)
        var t = time_t(before)
        var parts = tm()
        gmtime_r(&t, &parts)
        let expected = Int(parts.tm_year) + 1900
        #expect(Int(century >> 4) * 1000 + Int(century & 0xF) * 100 + Int(year >> 4) * 10 + Int(year & 0xF) == expected)
    }
}

/// Port 0x80 keeps the last code written and counts the writes.
@Suite struct DebugPortTests {
    @Test func recordsTheLastCode() {
        let port = DebugPort()
        #expect(port.lastCode == nil && port.writes == 0 && inb(port, 0x80, 0) == 0xFF)
        out(port, 0x80, 0, 0x12)
        out(port, 0x80, 0, 0x34)
        #expect(port.lastCode == 0x34 && port.writes == 2)
    }
}

/// The ACPI power control port as Linux's hardware-reduced ACPI code drives it: clearing the wake
/// status (0x80) does nothing, `SLP_EN | 5 << 2` powers off, the reset value reboots, each once
/// per write; reads return no wake status.
@Suite struct ACPIPowerControlTests {
    @Test func powerOffAndResetReachTheVMMOncePerWrite() {
        let shutdowns = I8042ControllerTests.Counter(), resets = I8042ControllerTests.Counter()
        let device = ACPIPowerControl(shutdown: { shutdowns.bump() }, reset: { resets.bump() })
        #expect(ACPIPowerControl.shutdownValue == 0x34, "SLP_EN (0x20) | SLP_TYP 5 << 2")
        out(device, 0x600, 0, 0x80)  // WAK_STS cleared before sleeping
        #expect(shutdowns.count == 0 && resets.count == 0 && device.ignoredWrites == 1)
        out(device, 0x600, 0, 0x34)
        #expect(shutdowns.count == 1 && resets.count == 0)
        out(device, 0x600, 0, 0x14)  // S5 type without SLP_EN: not a request
        out(device, 0x600, 0, 0x2C)  // SLP_EN with type 3 (S3): not offered
        #expect(shutdowns.count == 1 && device.ignoredWrites == 3)
        out(device, 0x600, 0, 0x01)
        #expect(resets.count == 1 && shutdowns.count == 1)
        #expect(inb(device, 0x600, 0) == 0)
    }
}
