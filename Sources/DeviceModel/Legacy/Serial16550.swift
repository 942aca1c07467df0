import HostSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A 16550A-compatible UART: enough for a guest to print (polling or interrupt driven) and for
/// the host to feed it input. Put it on a ``PortIOBus`` at `0x3f8` with size 8 (COM1).
///
/// Output bytes go to `output` as the guest writes them; ``enqueueInput(_:)`` queues bytes for
/// the guest to read. When the guest enables them (IER), "received data available" and
/// "transmitter empty" conditions call `interrupt`, typically the ``InterruptSignal/trigger()`` of
/// an ``HostSupport/EventFD`` registered with KVM as an irqfd.
///
/// Registers (offsets from the base): 0 RBR/THR (DLL with DLAB), 1 IER (DLM with DLAB), 2 IIR/FCR,
/// 3 LCR, 4 MCR, 5 LSR, 6 MSR, 7 SCR. The transmitter is always empty (every byte goes to `output`
/// at once), loopback mode (MCR bit 4) feeds transmitted bytes back as input, and the divisor
/// latch is stored but has no effect. State is behind a lock, so several vCPU threads may access
/// the port at once.
public final class Serial16550: PortIODevice {
    /// A receive FIFO depth of 64 bytes, for callers that size their input chunks. The model does
    /// not use it: all queued input waits in one host-side queue that the guest drains through
    /// RBR.
    public static let fifoSize = 64

    private struct Registers {
        var interruptEnable: UInt8 = 0
        var lineControl: UInt8 = 0x03  // 8 data bits, no parity, 1 stop bit
        var modemControl: UInt8 = 0x08  // OUT2
        var scratch: UInt8 = 0
        var divisorLow: UInt8 = 0x0c  // 9600 baud
        var divisorHigh: UInt8 = 0
        var fifoControl: UInt8 = 0
        var transmitterEmptyPending = true
        var input: [UInt8] = []
        var inputStart = 0
        var bytesOut: UInt64 = 0
    }

    private let state = Mutex(Registers())
    private let output: @Sendable (UInt8) -> Void
    private let interrupt: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - output: receives every byte the guest transmits.
    ///   - interrupt: raises the UART's interrupt line (edge), or `nil` for a polled UART.
    public init(output: @escaping @Sendable (UInt8) -> Void, interrupt: (@Sendable () -> Void)? = nil) {
        self.output = output
        self.interrupt = interrupt
    }

    /// Queues bytes for the guest to read (RBR), raising the receive interrupt if enabled.
    public func enqueueInput(_ bytes: [UInt8]) {
        let raise = state.withLock { s -> Bool in
            s.input.append(contentsOf: bytes)
            return !bytes.isEmpty && s.interruptEnable & 0x01 != 0
        }
        if raise { interrupt?() }
    }

    /// Bytes transmitted by the guest so far.
    public var transmittedCount: UInt64 { state.withLock { $0.bytesOut } }

    private static let dlab: UInt8 = 0x80
    private static let loopback: UInt8 = 0x10

    /// An IN from register `offset`: fills the first byte of `data` (the rest are zero). Reading
    /// RBR takes a queued input byte; an IIR read that reports "transmitter empty" clears it.
    public func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        guard !data.isEmpty else { return }
        for i in data.indices { data[i] = 0 }
        let (value, raise) = state.withLock { s -> (UInt8, Bool) in
            switch offset {
            case 0:
                if s.lineControl & Self.dlab != 0 { return (s.divisorLow, false) }
                guard s.inputStart < s.input.count else { return (0, false) }
                let byte = s.input[s.inputStart]
                s.inputStart += 1
                if s.inputStart == s.input.count {
                    s.input.removeAll(keepingCapacity: true)
                    s.inputStart = 0
                }
                // More data keeps the receive interrupt asserted.
                return (byte, s.inputStart < s.input.count && s.interruptEnable & 0x01 != 0)
            case 1:
                return (s.lineControl & Self.dlab != 0 ? s.divisorHigh : s.interruptEnable, false)
            case 2:
                // IIR: highest-priority pending interrupt; reading it clears "THR empty".
                let fifo: UInt8 = s.fifoControl & 0x01 != 0 ? 0xc0 : 0
                if s.interruptEnable & 0x01 != 0 && s.inputStart < s.input.count { return (fifo | 0x04, false) }
                if s.interruptEnable & 0x02 != 0 && s.transmitterEmptyPending {
                    s.transmitterEmptyPending = false
                    return (fifo | 0x02, false)
                }
                return (fifo | 0x01, false)
            case 3: return (s.lineControl, false)
            case 4: return (s.modemControl, false)
            case 5:
                // LSR: transmitter always empty; data ready when input is queued.
                return (0x60 | (s.inputStart < s.input.count ? 0x01 : 0), false)
            case 6:
                if s.modemControl & Self.loopback != 0 {
                    // Loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD.
                    let m = s.modemControl
                    return (((m & 0x01) << 5) | ((m & 0x02) << 3) | ((m & 0x04) << 4) | ((m & 0x08) << 4), false)
                }
                return (0xb0, false)  // DCD, DSR, CTS
            case 7: return (s.scratch, false)
            default: return (0, false)
            }
        }
        data[0] = value
        if raise { interrupt?() }
    }

    /// An OUT to register `offset` (only the first byte of `data` is used): a THR write sends
    /// the byte to `output` (or back to the input in loopback mode) and may raise the interrupt.
    public func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        guard let value = data.first else { return }
        enum Effect {
            case none
            case transmit(UInt8)
            case raise
        }
        let effect = state.withLock { s -> Effect in
            switch offset {
            case 0:
                if s.lineControl & Self.dlab != 0 {
                    s.divisorLow = value
                    return .none
                }
                s.bytesOut += 1
                if s.modemControl & Self.loopback != 0 {
                    s.input.append(value)
                    return s.interruptEnable & 0x01 != 0 ? .raise : .none
                }
                s.transmitterEmptyPending = true
                return .transmit(value)
            case 1:
                if s.lineControl & Self.dlab != 0 {
                    s.divisorHigh = value
                    return .none
                }
                let newlyEnabledTHRE = value & 0x02 != 0 && s.interruptEnable & 0x02 == 0
                s.interruptEnable = value & 0x0f
                if newlyEnabledTHRE { s.transmitterEmptyPending = true }
                return newlyEnabledTHRE ? .raise : .none
            case 2:
                s.fifoControl = value
                if value & 0x02 != 0 {  // clear receive FIFO
                    s.input.removeAll()
                    s.inputStart = 0
                }
                return .none
            case 3: s.lineControl = value
            case 4: s.modemControl = value & 0x1f
            case 7: s.scratch = value
            default: break
            }
            return .none
        }
        switch effect {
        case .none: break
        case .transmit(let byte):
            output(byte)
            if state.withLock({ $0.interruptEnable & 0x02 != 0 }) { interrupt?() }
        case .raise: interrupt?()
        }
    }
}

/// Collects a serial port's output; safe to read while the guest writes.
public final class SerialCapture: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    /// An empty capture.
    public init() {}

    /// The sink to pass to ``Serial16550/init(output:interrupt:)``.
    public var sink: @Sendable (UInt8) -> Void { { [self] byte in bytes.withLock { $0.append(byte) } } }

    /// Everything captured so far.
    public var data: [UInt8] { bytes.withLock { $0 } }

    /// The captured output as UTF-8 text.
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// A serial sink that writes each byte to a file descriptor (standard output by default).
public func serialOutput(toDescriptor fd: Int32 = 1) -> @Sendable (UInt8) -> Void {
    { byte in
        var b = byte
        _ = Glibc.write(fd, &b, 1)
    }
}
