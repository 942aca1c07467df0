import Synchronization

/// The power button of a hardware-reduced ACPI platform, as one I/O port: the FADT's sleep
/// control and sleep status registers and its reset register all point at it (the design Cloud
/// Hypervisor uses; the LinuxLoader target's `ACPITables.powerControlPort` writes such a FADT and
/// the `\_S5` sleep type, from the constants here). Put it on a ``PortIOBus`` with size 1 (0x600
/// is the usual port).
///
/// A kernel powering off writes `SLP_EN | SLP_TYP << 2` with the `\_S5` type (``shutdownValue``:
/// S5 is type 5), which calls `shutdown`; rebooting through the ACPI reset register writes
/// ``resetValue``, which calls `reset`. Other sleep states (S1–S4) are not offered by the tables
/// and are counted, not acted on. Reads return 0 (no wake status).
public final class ACPIPowerControl: PortIODevice {
    /// The sleep type the DSDT's `\_S5` package gives for soft-off.
    public static let softOffSleepType: UInt8 = 5
    /// `SLP_EN` (bit 5) with `SLP_TYP` = ``softOffSleepType`` (bits 2–4): the power-off write.
    public static let shutdownValue: UInt8 = 1 << 5 | softOffSleepType << 2
    /// The FADT's `RESET_VALUE`.
    public static let resetValue: UInt8 = 1

    private let shutdown: @Sendable () -> Void
    private let reset: @Sendable () -> Void
    private let ignored = Mutex<UInt64>(0)

    /// - Parameters:
    ///   - shutdown: called when the guest enters S5 (power off).
    ///   - reset: called when the guest writes the reset value (reboot).
    public init(shutdown: @escaping @Sendable () -> Void, reset: @escaping @Sendable () -> Void) {
        self.shutdown = shutdown
        self.reset = reset
    }

    /// Writes that were neither the power-off nor the reset value.
    public var ignoredWrites: UInt64 { ignored.withLock { $0 } }

    /// Reads 0: the sleep status register's `WAK_STS` is never set (the VM does not wake).
    public func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
    }

    /// Acts on a power-off or reset write; counts anything else.
    public func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        guard let byte = data.first else { return }
        switch byte {
        case Self.shutdownValue: shutdown()
        case Self.resetValue: reset()
        default: ignored.withLock { $0 += 1 }
        }
    }
}
