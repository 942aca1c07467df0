/// Request types, status values, feature bits and configuration-space offsets of virtio-blk
/// (virtio 1.x, section 5.2).
public enum VirtioBlock {
    /// The virtio device id of a block device.
    public static let deviceID: UInt32 = 2

    /// Request types (`virtio_blk_outhdr.type`).
    public enum RequestType: UInt32, Sendable, CaseIterable {
        case read = 0
        case write = 1
        case flush = 4
        case getID = 8
        case discard = 11
    }

    /// The status byte at the end of every request.
    public enum Status: UInt8, Sendable {
        case ok = 0
        case ioError = 1
        case unsupported = 2
    }

    /// Feature bits.
    public enum Feature {
        public static let sizeMax: UInt64 = 1 << 1
        public static let segmentMax: UInt64 = 1 << 2
        public static let readOnly: UInt64 = 1 << 5
        public static let blockSize: UInt64 = 1 << 6
        public static let flush: UInt64 = 1 << 9
        public static let discard: UInt64 = 1 << 13
    }

    /// Byte offsets in `struct virtio_blk_config`.
    public enum ConfigOffset {
        public static let capacity = 0
        public static let sizeMax = 8
        public static let segmentMax = 12
        public static let blockSize = 20
        public static let maxDiscardSectors = 36
        public static let maxDiscardSegments = 40
        public static let discardSectorAlignment = 44
        /// The size of the configuration space this device exposes.
        public static let size = 60
    }

    /// The request header (`virtio_blk_outhdr`) is 16 bytes: type u32, reserved u32, sector u64.
    public static let headerSize: UInt64 = 16
    /// The device id string returned by `GET_ID` is at most 20 bytes.
    public static let idSize = 20
    /// One discard segment: sector u64, sector count u32, flags u32.
    public static let discardSegmentSize: UInt64 = 16
    /// Sector unit of the protocol, whatever the backend's logical sector size.
    public static let sectorSize: UInt64 = 512
}
