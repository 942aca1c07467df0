import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The CMOS RAM and real-time clock (MC146818): put it on a ``PortIOBus`` at `0x70` with size 2
/// (index at 0x70, data at 0x71). The kernel reads the wall-clock time from it at boot.
///
/// The time registers (seconds 0x00, minutes 0x02, hours 0x04, weekday 0x06, day 0x07, month
/// 0x08, year 0x09, century 0x32) read the host's clock in UTC when read, in BCD unless the guest
/// set binary mode (status B bit 2) and in 24-hour form unless it cleared status B bit 1 (then
/// 12-hour, bit 7 for PM). Status A never shows an update in progress; status D says the RAM is
/// valid. The other bytes of the 128 are plain RAM. Bit 7 of the index (NMI disable) is
/// ignored. State is behind a lock.
public final class CMOSClock: PortIODevice {
    private struct State {
        var index: UInt8 = 0
        var ram = [UInt8](repeating: 0, count: 128)
    }

    private let state: Mutex<State>
    private let now: @Sendable () -> Int

    /// - Parameter now: the current time in seconds since 1970 (UTC); the host's clock by default.
    public init(now: @escaping @Sendable () -> Int = { Int(time(nil)) }) {
        var initial = State()
        initial.ram[0x0A] = 0x26  // 32.768 kHz time base, 1024 Hz periodic rate
        initial.ram[0x0B] = 0x02  // 24-hour, BCD
        initial.ram[0x0D] = 0x80  // RAM and time valid
        state = Mutex(initial)
        self.now = now
    }

    /// Reads the index (0x70) or the register it selects (0x71).
    public func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        guard let first = data.indices.first else { return }
        for i in data.indices { data[i] = 0xFF }
        guard offset == 1 else {
            data[first] = state.withLock { $0.index }
            return
        }
        let seconds = now()
        data[first] = state.withLock { s in Self.register(s.index, ram: s.ram, at: seconds) }
    }

    /// Selects a register (0x70) or writes it (0x71; the time registers and status C and D are not stored).
    public func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        guard let byte = data.first else { return }
        state.withLock { s in
            if offset == 0 {
                s.index = byte & 0x7F
            } else if offset == 1, ![0x0C, 0x0D].contains(s.index) {  // status C and D are read-only
                s.ram[Int(s.index)] = byte
            }
        }
    }

    /// Register `index` at `seconds` since 1970.
    static func register(_ index: UInt8, ram: [UInt8], at seconds: Int) -> UInt8 {
        let statusB = ram[0x0B]
        let binary = statusB & 0x04 != 0, twentyFourHour = statusB & 0x02 != 0
        func encode(_ value: Int) -> UInt8 {
            binary ? UInt8(value) : UInt8((value / 10) << 4 | (value % 10))
        }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        switch index {
        case 0x00: return encode(Int(parts.tm_sec))
        case 0x02: return encode(Int(parts.tm_min))
        case 0x04:
            let hour = Int(parts.tm_hour)
            if twentyFourHour { return encode(hour) }
            let twelve = hour % 12 == 0 ? 12 : hour % 12
            return encode(twelve) | (hour >= 12 ? 0x80 : 0)
        case 0x06: return encode(Int(parts.tm_wday) + 1)
        case 0x07: return encode(Int(parts.tm_mday))
        case 0x08: return encode(Int(parts.tm_mon) + 1)
        case 0x09: return encode(Int(parts.tm_year + 1900) % 100)
        case 0x32: return encode(Int(parts.tm_year + 1900) / 100)
        case 0x0A: return ram[0x0A] & 0x7F  // never an update in progress
        case 0x0C: return 0  // no interrupt flags
        default: return ram[Int(index)]
        }
    }
}
