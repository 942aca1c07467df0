import Synchronization

/// The i8042 keyboard controller, as much of it as a Linux kernel probes: put it on a
/// ``PortIOBus`` at `0x60` with size 5 (data at 0x60, status and commands at 0x64).
///
/// The controller passes its self-test (0xAA → 0x55) and interface test (0xAB → 0x00), keeps its
/// command byte (0x20 reads it, 0x60 writes it), answers every keyboard command with ACK (0xFA;
/// a keyboard reset 0xFF with ACK and 0xAA, passed), and has no auxiliary (mouse) port. Pulsing
/// the CPU reset line — command 0xFE, or writing the output port (0xD1) with bit 0 clear — is
/// how a kernel reboots (`reboot=k`, its default): it calls `reset` instead, so the VMM ends the
/// run as a reboot request. Replies wait in a small output buffer (at most
/// ``outputCapacity`` bytes: a guest cannot grow it). State is behind a lock.
public final class I8042Controller: PortIODevice {
    /// The most reply bytes waiting for the guest; later ones are dropped (a guest that never
    /// reads loses replies, as with real hardware).
    public static let outputCapacity = 16

    private struct State {
        var commandByte: UInt8 = 0x45  // keyboard interrupt on, system flag, translation
        var output: [UInt8] = []
        var pendingCommand: UInt8?  // a controller command waiting for its data byte
        var keyboardArgument = false  // a keyboard command waiting for its argument
        var resets: UInt64 = 0
    }

    private let state = Mutex(State())
    private let reset: @Sendable () -> Void
    private let interrupt: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - reset: called when the guest pulses the CPU reset line (a reboot request).
    ///   - interrupt: raises IRQ 1 when a reply is ready and the command byte enables it.
    public init(reset: @escaping @Sendable () -> Void, interrupt: (@Sendable () -> Void)? = nil) {
        self.reset = reset
        self.interrupt = interrupt
    }

    /// How many times the guest pulsed the reset line.
    public var resetRequests: UInt64 { state.withLock { $0.resets } }

    /// The status register: bit 0 output buffer full, bit 2 system flag (self-test passed).
    static let outputFull: UInt8 = 0x01, systemFlag: UInt8 = 0x04

    /// Reads the data port (the next reply, 0 when none) or the status register.
    public func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        guard let first = data.indices.first else { return }
        for i in data.indices { data[i] = 0xFF }
        data[first] = state.withLock { s -> UInt8 in
            switch offset {
            case 0:  // data
                return s.output.isEmpty ? 0 : s.output.removeFirst()
            case 4:  // status
                return (s.output.isEmpty ? 0 : Self.outputFull) | (s.commandByte & Self.systemFlag)
            default:
                return 0xFF
            }
        }
    }

    /// Writes a controller command (0x64) or a data byte (0x60).
    public func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        guard let byte = data.first else { return }
        var pulse = false, raise = false
        state.withLock { s in
            let before = s.output.count
            switch offset {
            case 4: pulse = Self.command(byte, &s)
            case 0: pulse = Self.data(byte, &s)
            default: break
            }
            if pulse { s.resets += 1 }
            raise = s.output.count > before && s.commandByte & 0x01 != 0
        }
        if pulse { reset() }
        if raise { interrupt?() }
    }

    private static func reply(_ bytes: UInt8..., to s: inout State) {
        for byte in bytes where s.output.count < outputCapacity { s.output.append(byte) }
    }

    /// A controller command; returns whether it pulses the reset line.
    private static func command(_ byte: UInt8, _ s: inout State) -> Bool {
        s.pendingCommand = nil
        switch byte {
        case 0x20: reply(s.commandByte, to: &s)  // read command byte
        case 0x60, 0xD1, 0xD2, 0xD4: s.pendingCommand = byte  // data byte follows
        case 0xAA:
            s.commandByte |= systemFlag
            reply(0x55, to: &s)  // self-test passed
        case 0xAB: reply(0x00, to: &s)  // keyboard interface test passed
        case 0xA9: reply(0xFF, to: &s)  // auxiliary interface test: no aux port
        case 0xD0: reply(0x01, to: &s)  // read output port: reset line high
        case 0xFE: return true  // pulse the reset line
        default: break  // enable/disable keyboard or aux, and the rest: accepted
        }
        return false
    }

    /// A data byte: the argument of a pending controller command, else a keyboard command.
    private static func data(_ byte: UInt8, _ s: inout State) -> Bool {
        if let command = s.pendingCommand {
            s.pendingCommand = nil
            switch command {
            case 0x60: s.commandByte = byte
            case 0xD1: return byte & 0x01 == 0  // output port with the reset line low
            case 0xD2: reply(byte, to: &s)  // echo as keyboard input
            default: break  // 0xD4: to the aux device, which is absent
            }
            return false
        }
        if s.keyboardArgument {
            s.keyboardArgument = false
            reply(0xFA, to: &s)
            return false
        }
        switch byte {
        case 0xFF: reply(0xFA, 0xAA, to: &s)  // reset: ACK, self-test passed
        case 0xED, 0xF0, 0xF3:
            s.keyboardArgument = true  // LEDs, scan code set, typematic: an argument follows
            reply(0xFA, to: &s)
        case 0xF2: reply(0xFA, 0xAB, 0x83, to: &s)  // identify: MF2 keyboard
        case 0xEE: reply(0xEE, to: &s)  // echo
        default: reply(0xFA, to: &s)
        }
        return false
    }
}
