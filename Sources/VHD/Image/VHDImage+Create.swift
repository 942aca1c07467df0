#if canImport(Glibc)
    import BlockStorage
    import Glibc
#endif

/// How ``VHDImage/create(path:options:)`` lays out a new image.
public struct VHDCreateOptions: Sendable {
    /// Fixed or dynamic (differencing disks come from
    /// ``VHDImage/createDifferencing(path:parentPath:options:)``).
    public var type: VHDDiskType = .dynamic
    /// Disk size in bytes; must be a multiple of 512 (see ``alignToMiB``).
    public var size: UInt64
    /// Block size of a dynamic disk: a power of two from 512 bytes to 1 GiB.
    public var blockSize: UInt32 = VHDDynamicHeader.defaultBlockSize
    /// Creator application. The default `win ` tells readers (QEMU among them) that the
    /// current-size field, not the CHS geometry, is the disk size — which is how this library
    /// writes images: the size is exactly the size asked for, and the geometry is the
    /// specification's (rounded-down) CHS for it.
    public var creatorApplication: UInt32 = VHDCreateOptions.defaultCreatorApplication
    /// Creator version (major in the high 16 bits, minor in the low 16; default 10.0).
    public var creatorVersion: UInt32 = VHDCreateOptions.defaultCreatorVersion
    /// Creator host OS (`Wi2k`, `Mac `, or 0).
    public var creatorHostOS: UInt32 = VHDCreateOptions.defaultCreatorHostOS
    /// Round the size up to a whole MiB, as Azure requires of fixed disks.
    public var alignToMiB = false
    /// The unique id (random when nil).
    public var uniqueID: VHDUniqueID?

    /// Options for a disk of `type` (fixed or dynamic) and `size` bytes; other fields keep their
    /// defaults (2 MiB blocks, creator `win ` 10.0 on `Wi2k`, a random id).
    public init(type: VHDDiskType = .dynamic, size: UInt64) {
        self.type = type
        self.size = size
    }

    /// `win `: the current-size field, not the geometry, is the disk size.
    public static let defaultCreatorApplication = fourCC("win ")
    /// 10.0, as Windows writes.
    public static let defaultCreatorVersion: UInt32 = 0x000A_0000
    /// `Wi2k`.
    public static let defaultCreatorHostOS = fourCC("Wi2k")
}

/// The footer fields of a new differencing disk that are not taken from its parent.
public struct VHDDifferencingOptions: Sendable {
    /// Creator application (see ``VHDCreateOptions/creatorApplication``).
    public var creatorApplication: UInt32 = VHDCreateOptions.defaultCreatorApplication
    /// Creator version (see ``VHDCreateOptions/creatorVersion``).
    public var creatorVersion: UInt32 = VHDCreateOptions.defaultCreatorVersion
    /// Creator host OS (`Wi2k`, `Mac `, or 0).
    public var creatorHostOS: UInt32 = VHDCreateOptions.defaultCreatorHostOS
    /// The unique id (random when nil).
    public var uniqueID: VHDUniqueID?

    /// The defaults: creator `win ` 10.0 on `Wi2k`, a random id.
    public init() {}
}

extension VHDImage {
    /// Creates a fixed or dynamic VHD at `path` and opens it for writing.
    ///
    /// The image is written under a temporary name beside `path` and renamed into place only
    /// when complete and synced (BlockStorage's `writeNewFile(at:locking:mapError:_:)`): a failure —
    /// invalid options included — leaves any existing file at `path` exactly as it was and no
    /// new file behind.
    public static func create(path: String, options: VHDCreateOptions) throws(VHDError) -> VHDImage {
        try writeNewFile(at: path, mapError: VHDError.device) { (temporary) throws(VHDError) in
            let file = try lifting { () throws(BlockDeviceError) in
                try FileImageIO(path: temporary, readOnly: false, create: true, truncate: true)
            }
            _ = try create(io: file, path: path, options: options)
        }
        return try open(path: path, readOnly: false)
    }

    /// Creates a fixed or dynamic VHD on an empty `ImageIO`.
    public static func create(io: any ImageIO, path: String, options: VHDCreateOptions) throws(VHDError) -> VHDImage {
        var size = options.size
        if options.alignToMiB { size = alignUp(size, 1 << 20) }
        guard size % 512 == 0 else { throw .invalidRequest("disk size \(size) is not a multiple of 512 bytes") }
        guard size > 0, size <= maximumVHDSize else {
            throw .invalidRequest("disk size \(size) is outside 512 bytes…2040 GiB")
        }
        let footer = VHDFooter(
            diskType: options.type, currentSize: size,
            dataOffset: options.type == .fixed ? VHDFooter.noDataOffset : 512,
            uniqueID: options.uniqueID ?? .random(), timestamp: VHDTimestamp.now(),
            creatorApplication: options.creatorApplication, creatorVersion: options.creatorVersion,
            creatorHostOS: options.creatorHostOS)
        switch options.type {
        case .fixed:
            try lifting { () throws(BlockDeviceError) in
                try io.truncate(to: size)
                try io.writeBytes(footer.serialized(), at: size)
                try io.sync()
            }
        case .dynamic:
            try writeSparse(io: io, footer: footer, blockSize: options.blockSize, parent: nil)
        case .differencing:
            throw .invalidRequest("use createDifferencing(path:parentPath:) for a differencing disk")
        }
        return try open(io: io, path: path, readOnly: false)
    }

    /// Creates a differencing VHD at `path` whose parent is the VHD at `parentPath` (any type),
    /// with `W2ru`, `W2ku` and `MacX` locators, and opens it for writing.
    ///
    /// The parent's metadata is read under a lock that shares everything (BlockStorage's
    /// `ImageLocking.forceShare`), but the new child is opened, before it takes its name, with its
    /// parent under a reader's lock: a parent open for writing fails the call with
    /// `BlockDeviceError.locked` and leaves `path` as it was.
    ///
    /// Written under a temporary name beside `path` and renamed into place when complete, as
    /// ``create(path:options:)``: a missing or invalid parent leaves any file at `path` as it was.
    public static func createDifferencing(path: String, parentPath: String, options: VHDDifferencingOptions = .init())
        throws(VHDError) -> VHDImage
    {
        try writeNewFile(at: path, mapError: VHDError.device) { (temporary) throws(VHDError) in
            let file = try lifting { () throws(BlockDeviceError) in
                try FileImageIO(path: temporary, readOnly: false, create: true, truncate: true)
            }
            _ = try createDifferencing(io: file, path: path, parentPath: parentPath, options: options)
        }
        return try open(path: path, readOnly: false)
    }

    /// Creates a differencing VHD on an empty `ImageIO`; `path` is where the child will be
    /// known (relative locators are computed from it).
    public static func createDifferencing(
        io: any ImageIO, path: String, parentPath: String, options: VHDDifferencingOptions = .init()
    ) throws(VHDError) -> VHDImage {
        // Only the parent's metadata is read, so its lock shares everything, as `qemu-img create -b`
        // does: a child can be created over a parent another process is writing (opening the child
        // for I/O is what then needs the parent unwritten).
        let parent = try open(path: parentPath, readOnly: true, locking: .forceShare)
        let footer = VHDFooter(
            diskType: .differencing, currentSize: parent.capacity, dataOffset: 512,
            uniqueID: options.uniqueID ?? .random(),
            timestamp: VHDTimestamp.now(), creatorApplication: options.creatorApplication,
            creatorVersion: options.creatorVersion,
            creatorHostOS: options.creatorHostOS)
        let blockSize = parent.header?.blockSize ?? VHDDynamicHeader.defaultBlockSize
        try writeSparse(io: io, footer: footer, blockSize: blockSize, parent: (parent, parentPath, path))
        return try open(io: io, path: path, readOnly: false)
    }

    /// Writes footer copy, header, BAT (all unallocated), locators and trailing footer.
    static func writeSparse(
        io: any ImageIO, footer: VHDFooter, blockSize: UInt32,
        parent: (image: VHDImage, path: String, childPath: String)?
    ) throws(VHDError) {
        let block = UInt64(blockSize)
        guard block >= 512, UInt64(block) <= maximumBlockSize, block & (block - 1) == 0 else {
            throw .invalidRequest("block size \(blockSize) is not a power of two from 512 bytes to 1 GiB")
        }
        let entries = blockCount(covering: footer.currentSize, blockSize: block)
        guard entries <= UInt64(UInt32.max) else { throw .invalidRequest("too many blocks") }
        var header = VHDDynamicHeader(tableOffset: 512 + 1024, maxTableEntries: UInt32(entries), blockSize: blockSize)
        var position = header.tableOffset + header.tableSize
        var locatorBlobs: [(UInt64, [UInt8])] = []
        if let parent {
            header.parentUniqueID = parent.image.footer.uniqueID
            header.parentTimestamp = VHDTimestamp.modificationTime(ofFile: parent.path) ?? 0
            header.parentName = String(ParentLink.absolutePath(parent.path).split(separator: "/").last ?? "")
            for (i, locator) in ParentLink.locatorData(childPath: parent.childPath, parentPath: parent.path)
                .enumerated()
            {
                let space = alignUp(UInt64(locator.data.count), 512)
                header.locators[i] = ParentLocatorEntry(
                    platformCode: locator.code, dataSpace: UInt32(space), dataLength: UInt32(locator.data.count),
                    dataOffset: position)
                locatorBlobs.append((position, locator.data))
                position += space
            }
        }
        let bat = [UInt8](repeating: 0xFF, count: Int(header.tableSize))
        let footerBytes = footer.serialized()
        try lifting { () throws(BlockDeviceError) in
            try io.truncate(to: 0)
            try io.writeBytes(footerBytes, at: 0)
            try io.writeBytes(header.serialized(), at: 512)
            try io.writeBytes(bat, at: header.tableOffset)
            for (offset, data) in locatorBlobs {
                try io.writeBytes(
                    data + [UInt8](repeating: 0, count: Int(alignUp(UInt64(data.count), 512)) - data.count), at: offset)
            }
            try io.writeBytes(footerBytes, at: position)
            try io.sync()
        }
    }
}
