import ResourceAllocator

/// Where a virtio-mmio device sits: its register window in the 32-bit MMIO window and its
/// interrupt line, both taken from the `ResourceAllocator` target's `X86_64Layout`.
public struct DevicePlacement: Hashable, Sendable, Codable {
    /// Guest physical base of the register window.
    public let mmioBase: UInt64
    /// Size of the register window.
    public let mmioSize: UInt64
    /// The GSI (an IOAPIC pin, and for GSIs below 16 also a PIC line) of the device interrupt.
    public let gsi: UInt32

    /// A placement with the given window and GSI (for example one restored from a snapshot).
    public init(mmioBase: UInt64, mmioSize: UInt64, gsi: UInt32) {
        self.mmioBase = mmioBase
        self.mmioSize = mmioSize
        self.gsi = gsi
    }

    /// How a Linux guest learns about the device without ACPI or a device tree: the
    /// `virtio_mmio.device=<size>@<base>:<irq>` kernel command-line parameter.
    public var linuxCommandLineParameter: String {
        let size = mmioSize % 1024 == 0 ? "\(mmioSize / 1024)K" : "\(mmioSize)"
        return "virtio_mmio.device=\(size)@0x\(String(mmioBase, radix: 16)):\(gsi)"
    }

    /// The legacy lines a PC platform already uses: timer (0), keyboard (1), PIC cascade (2),
    /// COM2/COM4 (3), COM1/COM3 (4). Reserve them once per layout with
    /// ``reservePlatformIRQs(in:)`` before placing devices.
    public static let platformIRQs: [UInt32] = [0, 1, 2, 3, 4]

    /// Marks ``platformIRQs`` as taken in `layout` (those already taken are left alone).
    public static func reservePlatformIRQs(in layout: inout X86_64Layout) {
        for irq in platformIRQs where !layout.legacyIRQs.isAllocated(irq) {
            try? layout.legacyIRQs.reserve(irq)
        }
    }

    /// Allocates a page-aligned window of `size` bytes (default: one 4 KiB page, which holds
    /// the 0x200-byte virtio-mmio registers) in the 32-bit MMIO window and the lowest free
    /// legacy IRQ.
    ///
    /// - Throws: ``DevicePlacementError/mmio(_:)`` when the window has no room;
    ///   ``DevicePlacementError/irq(_:)`` when no legacy IRQ is free (the window is freed again).
    public static func allocate(in layout: inout X86_64Layout, size: UInt64 = 0x1000) throws(DevicePlacementError)
        -> DevicePlacement
    {
        let range: AddressRange
        do {
            range = try layout.mmio32.allocate(size: size, alignment: 0x1000, policy: .firstFit)
        } catch {
            throw .mmio(error)
        }
        do {
            let gsi = try layout.legacyIRQs.allocate()
            return DevicePlacement(mmioBase: range.start, mmioSize: size, gsi: gsi)
        } catch {
            try? layout.mmio32.free(range)
            throw .irq(error)
        }
    }
}

/// Why a device could not be placed.
public enum DevicePlacementError: Error, Hashable, Sendable {
    /// The 32-bit MMIO window could not hold the register window.
    case mmio(AddressAllocatorError)
    /// No legacy IRQ line was free.
    case irq(IdAllocatorError)
}
