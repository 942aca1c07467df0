import DeviceModel

/// A device of the embedder's, put on the VM's port-I/O or MMIO bus next to the built-in ones
/// (``VirtualMachine/init(configuration:devices:eventLoop:)``). Its window must not overlap another
/// device's: COM1 (0x3f8–0x3ff), the i8042 (0x60–0x64), the CMOS clock (0x70–0x71), port 0x80, the
/// ACPI power control (0x600) and the disks' virtio-mmio windows are taken.
public struct DeviceAttachment: Sendable {
    enum Bus: Sendable {
        case portIO(any PortIODevice)
        case mmio(any MMIODevice)
    }

    let bus: Bus
    /// The window's first port or address.
    public let base: UInt64
    /// The window's size.
    public let size: UInt64

    /// `device` on ports `base ..< base + size`.
    public static func portIO(_ device: any PortIODevice, base: UInt16, size: UInt16) -> DeviceAttachment {
        DeviceAttachment(bus: .portIO(device), base: UInt64(base), size: UInt64(size))
    }

    /// `device` at guest physical addresses `base ..< base + size` (outside RAM).
    public static func mmio(_ device: any MMIODevice, base: UInt64, size: UInt64) -> DeviceAttachment {
        DeviceAttachment(bus: .mmio(device), base: base, size: size)
    }
}
