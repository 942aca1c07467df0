/// Register offsets of the virtio MMIO transport, version 2 (virtio 1.x, section 4.2.2).
public enum VirtioMMIORegister {
    public static let magicValue: UInt64 = 0x000
    public static let version: UInt64 = 0x004
    public static let deviceID: UInt64 = 0x008
    public static let vendorID: UInt64 = 0x00c
    public static let deviceFeatures: UInt64 = 0x010
    public static let deviceFeaturesSelect: UInt64 = 0x014
    public static let driverFeatures: UInt64 = 0x020
    public static let driverFeaturesSelect: UInt64 = 0x024
    public static let queueSelect: UInt64 = 0x030
    public static let queueSizeMax: UInt64 = 0x034
    public static let queueSize: UInt64 = 0x038
    public static let queueReady: UInt64 = 0x044
    public static let queueNotify: UInt64 = 0x050
    public static let interruptStatus: UInt64 = 0x060
    public static let interruptAcknowledge: UInt64 = 0x064
    public static let status: UInt64 = 0x070
    public static let queueDescriptorLow: UInt64 = 0x080
    public static let queueDescriptorHigh: UInt64 = 0x084
    public static let queueDriverLow: UInt64 = 0x090
    public static let queueDriverHigh: UInt64 = 0x094
    public static let queueDeviceLow: UInt64 = 0x0a0
    public static let queueDeviceHigh: UInt64 = 0x0a4
    public static let configGeneration: UInt64 = 0x0fc
    /// Start of the device-specific configuration space.
    public static let config: UInt64 = 0x100

    /// `"virt"` in little-endian.
    public static let magic: UInt32 = 0x7472_6976
    /// The size of one virtio-mmio device's register window.
    public static let windowSize: UInt64 = 0x200
}

/// Bits of the device status register (section 2.1).
public struct VirtioDeviceStatus: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let acknowledge = VirtioDeviceStatus(rawValue: 1)
    public static let driver = VirtioDeviceStatus(rawValue: 2)
    public static let driverOK = VirtioDeviceStatus(rawValue: 4)
    public static let featuresOK = VirtioDeviceStatus(rawValue: 8)
    public static let needsReset = VirtioDeviceStatus(rawValue: 64)
    public static let failed = VirtioDeviceStatus(rawValue: 128)
}

/// Feature bits common to every device type (section 6).
public enum VirtioFeature {
    /// `VIRTIO_F_INDIRECT_DESC`: a descriptor may point to a table of descriptors (offered by
    /// ``VirtioMMIOTransport`` for every device).
    public static let indirectDescriptors: UInt64 = 1 << 28
    /// `VIRTIO_F_EVENT_IDX`: `used_event` / `avail_event` suppress interrupts and notifications
    /// (offered by ``VirtioMMIOTransport`` for every device).
    public static let eventIndex: UInt64 = 1 << 29
    /// `VIRTIO_F_VERSION_1`: the device follows virtio 1.x, not the legacy interface.
    public static let version1: UInt64 = 1 << 32
}

/// Bits of the interrupt status register.
public enum VirtioInterrupt {
    /// A buffer was put in a used ring.
    public static let usedBuffer: UInt32 = 1
    /// The configuration (or the device status, e.g. NEEDS_RESET) changed.
    public static let configurationChange: UInt32 = 2
}
