/// Register offsets of the virtio MMIO transport, version 2 (virtio 1.x, section 4.2.2).
public enum VirtioMMIORegister {
    /// `MagicValue` (read-only): ``magic``, `"virt"`.
    public static let magicValue: UInt64 = 0x000
    /// `Version` (read-only): 2, the virtio 1.x MMIO interface.
    public static let version: UInt64 = 0x004
    /// `DeviceID` (read-only): the device type, e.g. 2 for a block device.
    public static let deviceID: UInt64 = 0x008
    /// `VendorID` (read-only).
    public static let vendorID: UInt64 = 0x00c
    /// `DeviceFeatures` (read-only): 32 bits of the offered features, selected by
    /// ``deviceFeaturesSelect``.
    public static let deviceFeatures: UInt64 = 0x010
    /// `DeviceFeaturesSel`: which 32-bit half of the offered features ``deviceFeatures`` shows.
    public static let deviceFeaturesSelect: UInt64 = 0x014
    /// `DriverFeatures`: 32 bits of the features the driver accepts, selected by
    /// ``driverFeaturesSelect``.
    public static let driverFeatures: UInt64 = 0x020
    /// `DriverFeaturesSel`: which 32-bit half ``driverFeatures`` writes.
    public static let driverFeaturesSelect: UInt64 = 0x024
    /// `QueueSel`: the queue the queue registers below refer to.
    public static let queueSelect: UInt64 = 0x030
    /// `QueueNumMax` (read-only): the largest size the selected queue supports.
    public static let queueSizeMax: UInt64 = 0x034
    /// `QueueNum`: the size the driver chose for the selected queue.
    public static let queueSize: UInt64 = 0x038
    /// `QueueReady`: 1 starts the selected queue (after the device validates it), 0 stops it.
    public static let queueReady: UInt64 = 0x044
    /// `QueueNotify` (write-only): the driver has made buffers available in a queue.
    public static let queueNotify: UInt64 = 0x050
    /// `InterruptStatus` (read-only): pending interrupt causes (``VirtioInterrupt``).
    public static let interruptStatus: UInt64 = 0x060
    /// `InterruptACK` (write-only): clears the interrupt causes written.
    public static let interruptAcknowledge: UInt64 = 0x064
    /// `Status`: the device status bits (``VirtioDeviceStatus``); writing 0 resets the device.
    public static let status: UInt64 = 0x070
    /// `QueueDescLow`: low 32 bits of the selected queue's descriptor table address.
    public static let queueDescriptorLow: UInt64 = 0x080
    /// `QueueDescHigh`: high 32 bits of the descriptor table address.
    public static let queueDescriptorHigh: UInt64 = 0x084
    /// `QueueDriverLow`: low 32 bits of the selected queue's available ring address.
    public static let queueDriverLow: UInt64 = 0x090
    /// `QueueDriverHigh`: high 32 bits of the available ring address.
    public static let queueDriverHigh: UInt64 = 0x094
    /// `QueueDeviceLow`: low 32 bits of the selected queue's used ring address.
    public static let queueDeviceLow: UInt64 = 0x0a0
    /// `QueueDeviceHigh`: high 32 bits of the used ring address.
    public static let queueDeviceHigh: UInt64 = 0x0a4
    /// `ConfigGeneration` (read-only): changes whenever the configuration space may have changed.
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
    /// The register value.
    public let rawValue: UInt32
    /// The status with the given bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `ACKNOWLEDGE` (1): the guest has noticed the device.
    public static let acknowledge = VirtioDeviceStatus(rawValue: 1)
    /// `DRIVER` (2): the guest has a driver for the device.
    public static let driver = VirtioDeviceStatus(rawValue: 2)
    /// `DRIVER_OK` (4): the driver is set up; the device may serve its queues.
    public static let driverOK = VirtioDeviceStatus(rawValue: 4)
    /// `FEATURES_OK` (8): the driver has finished feature negotiation; the device clears it again
    /// when it does not accept the features.
    public static let featuresOK = VirtioDeviceStatus(rawValue: 8)
    /// `DEVICE_NEEDS_RESET` (64): the device met an error it cannot recover from without a reset.
    public static let needsReset = VirtioDeviceStatus(rawValue: 64)
    /// `FAILED` (128): the guest has given up on the device.
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
