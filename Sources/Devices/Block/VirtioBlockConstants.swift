/// Request types, status values, feature bits and configuration-space offsets of virtio-blk
/// (virtio 1.x, section 5.2).
public enum VirtioBlock {
    /// The virtio device id of a block device.
    public static let deviceID: UInt32 = 2

    /// Request types (`virtio_blk_outhdr.type`).
    public enum RequestType: UInt32, Sendable, CaseIterable {
        /// `VIRTIO_BLK_T_IN` (0): read sectors into the writable buffers.
        case read = 0
        /// `VIRTIO_BLK_T_OUT` (1): write the readable data to sectors.
        case write = 1
        /// `VIRTIO_BLK_T_FLUSH` (4): make completed writes durable.
        case flush = 4
        /// `VIRTIO_BLK_T_GET_ID` (8): return the device id string (up to 20 bytes).
        case getID = 8
        /// `VIRTIO_BLK_T_DISCARD` (11): discard the sector ranges of the readable segments.
        case discard = 11
    }

    /// The status byte at the end of every request.
    public enum Status: UInt8, Sendable {
        /// `VIRTIO_BLK_S_OK` (0): the request succeeded.
        case ok = 0
        /// `VIRTIO_BLK_S_IOERR` (1): the request failed or was malformed.
        case ioError = 1
        /// `VIRTIO_BLK_S_UNSUPP` (2): the request type is not supported.
        case unsupported = 2
    }

    /// Feature bits.
    public enum Feature {
        /// `VIRTIO_BLK_F_SIZE_MAX`: ``ConfigOffset/sizeMax`` limits a segment's size.
        public static let sizeMax: UInt64 = 1 << 1
        /// `VIRTIO_BLK_F_SEG_MAX`: ``ConfigOffset/segmentMax`` limits the segments per request.
        public static let segmentMax: UInt64 = 1 << 2
        /// `VIRTIO_BLK_F_RO`: the device is read-only.
        public static let readOnly: UInt64 = 1 << 5
        /// `VIRTIO_BLK_F_BLK_SIZE`: ``ConfigOffset/blockSize`` gives the logical block size.
        public static let blockSize: UInt64 = 1 << 6
        /// `VIRTIO_BLK_F_FLUSH`: the device supports ``RequestType/flush``.
        public static let flush: UInt64 = 1 << 9
        /// `VIRTIO_BLK_F_DISCARD`: the device supports ``RequestType/discard``, with limits in the
        /// configuration space.
        public static let discard: UInt64 = 1 << 13
    }

    /// Byte offsets in `struct virtio_blk_config`.
    public enum ConfigOffset {
        /// `capacity` (u64): the disk size in 512-byte sectors.
        public static let capacity = 0
        /// `size_max` (u32): the largest segment in bytes.
        public static let sizeMax = 8
        /// `seg_max` (u32): the most data segments in one request.
        public static let segmentMax = 12
        /// `blk_size` (u32): the logical block size in bytes.
        public static let blockSize = 20
        /// `max_discard_sectors` (u32): the most sectors one discard segment may cover.
        public static let maxDiscardSectors = 36
        /// `max_discard_seg` (u32): the most segments in one discard request.
        public static let maxDiscardSegments = 40
        /// `discard_sector_alignment` (u32): discard granularity in 512-byte sectors.
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
