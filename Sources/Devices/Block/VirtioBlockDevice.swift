import BlockStorage
import DeviceModel
import GuestMemory
import Synchronization

/// A virtio-blk device over any `BlockDevice` of the `BlockStorage` target (raw file, fixed, dynamic or differencing
/// VHD): `IN`, `OUT`, `FLUSH`, `GET_ID` and `DISCARD` on one request queue.
///
/// Request data moves directly between the disk backend and the guest pages that back the
/// descriptors (no bounce buffer, no allocation sized by the guest). A request that is
/// malformed (header too short, data not a multiple of 512 bytes, past the end of the disk, a
/// write to a read-only image, too many discard segments) completes with an error status; a
/// chain without room for the status byte completes with nothing written.
public final class VirtioBlockDevice: VirtioDeviceBackend {
    /// The disk the requests are served from.
    public let disk: any BlockDevice
    /// The identifier returned by `GET_ID` (at most 20 bytes are used).
    public let serial: [UInt8]
    /// Queue size offered to the driver.
    public let queueSize: UInt16
    /// Largest discard segment, in 512-byte sectors (advertised as `max_discard_sectors`).
    public let maxDiscardSectors: UInt32
    /// Most segments per discard request (advertised as `max_discard_seg`).
    public let maxDiscardSegments: UInt32

    /// The queue's rate limiter, if any (request data bytes, requests).
    public let rateLimiter: RateLimiter?

    private let counters = RequestCounters()
    private let transport = TransportLink()

    /// A device serving `disk`, answering `GET_ID` with `serial` (its first 20 UTF-8 bytes),
    /// offering one queue of `queueSize` entries and the given discard limits.
    ///
    /// With a `rateLimiter`, each request takes its data bytes and one operation from it first;
    /// a request it refuses waits in the ring (the queue is then device-driven, and the
    /// limiter's timer, one of the device's event sources, resumes it).
    ///
    /// - Throws: ``VirtqueueError/invalidSize(_:)`` unless `queueSize` is a power of two from 2
    ///   to 32768 (the specification's largest): a request takes at least two descriptors (header
    ///   and status), and `seg_max` is advertised as `queueSize - 2`.
    public init(
        disk: any BlockDevice, serial: String = "swift-vmm", queueSize: UInt16 = 128,
        maxDiscardSectors: UInt32 = 1 << 22, maxDiscardSegments: UInt32 = 16, rateLimiter: RateLimiter? = nil
    ) throws(VirtqueueError) {
        guard queueSize >= 2, queueSize <= 32768, queueSize & (queueSize - 1) == 0 else {
            throw .invalidSize(UInt32(queueSize))
        }
        self.disk = disk
        self.serial = Array(serial.utf8.prefix(VirtioBlock.idSize))
        self.queueSize = queueSize
        self.maxDiscardSectors = maxDiscardSectors
        self.maxDiscardSegments = maxDiscardSegments
        self.rateLimiter = rateLimiter
    }

    /// The request queue when a rate limiter decides when requests may go (none otherwise: the
    /// transport serves every request at once).
    public var deviceDrivenQueues: Set<Int> { rateLimiter == nil ? [] : [0] }

    /// Keeps the transport (weakly), to take requests through under a rate limiter.
    public func connect(to queues: any VirtioQueueAccess) {
        transport.connect(queues)
    }

    /// Under a rate limiter: serves the requests its buckets allow, leaving the rest in the ring
    /// for its timer.
    public func queueNotified(_ queue: Int) {
        guard let rateLimiter, let queues = transport.queues else { return }
        queues.takeChains(queue: 0) { chain, memory in
            // The request's data: what it carries past its 16-byte header and 1-byte status.
            let total = chain.readableLength + chain.writableLength
            guard rateLimiter.consume(bytes: total > 17 ? total - 17 : 0) else { return nil }
            return serve(chain, queue: queue, memory: memory)
        }
    }

    /// The rate limiter's timer, when there is one.
    public var eventSources: [DeviceEventSource] {
        guard let rateLimiter else { return [] }
        return [
            DeviceEventSource(name: "virtio-blk rate limiter", descriptor: rateLimiter.timer.fileDescriptor) {
                [self] _ in
                rateLimiter.timerFired()
                queueNotified(0)
            }
        ]
    }

    /// 2, a block device.
    public var deviceID: UInt32 { VirtioBlock.deviceID }

    /// `VERSION_1`, `FLUSH`, `BLK_SIZE`, `SEG_MAX` and `DISCARD`, plus `RO` for a read-only disk.
    public var deviceFeatures: UInt64 {
        var features =
            VirtioFeature.version1 | VirtioBlock.Feature.flush | VirtioBlock.Feature.blockSize
            | VirtioBlock.Feature.segmentMax | VirtioBlock.Feature.discard
        if disk.isReadOnly { features |= VirtioBlock.Feature.readOnly }
        return features
    }

    /// One request queue of ``queueSize`` entries.
    public var queueSizeMax: [UInt16] { [queueSize] }

    /// Requests completed so far, per type, and how many failed.
    public var statistics: VirtioBlockStatistics { counters.snapshot() }

    /// Reads `struct virtio_blk_config` (capacity, `seg_max`, block size and discard limits; other
    /// fields zero); bytes past its ``VirtioBlock/ConfigOffset/size`` bytes read as zero.
    public func readConfig(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        var config = VirtioConfigSpace(size: VirtioBlock.ConfigOffset.size)
        config.put(disk.capacity / VirtioBlock.sectorSize, at: VirtioBlock.ConfigOffset.capacity)
        config.put(UInt32(queueSize) - 2, at: VirtioBlock.ConfigOffset.segmentMax)
        config.put(UInt32(disk.logicalSectorSize), at: VirtioBlock.ConfigOffset.blockSize)
        config.put(maxDiscardSectors, at: VirtioBlock.ConfigOffset.maxDiscardSectors)
        config.put(maxDiscardSegments, at: VirtioBlock.ConfigOffset.maxDiscardSegments)
        config.put(UInt32(disk.logicalSectorSize) / 512, at: VirtioBlock.ConfigOffset.discardSectorAlignment)
        config.read(offset: offset, into: data)
    }

    /// Executes the request in `chain`, writes its status into the last writable byte and returns
    /// the bytes written (data plus the status byte); 0 when the chain has no room for a status.
    public func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32 {
        // Through the concrete map when there is one: the request's accesses are then specialized.
        if let map = concreteMap(of: memory) { return serve(chain, memory: map) }
        return serve(chain, memory: memory)
    }

    /// ``serve(_:queue:memory:)`` over `memory` as its concrete type when known.
    private func serve<Memory: GuestMemoryAccess>(_ chain: DescriptorChain, memory: Memory) -> UInt32 {
        // The status byte is the last byte of the writable buffers.
        let writableLength = chain.writableLength
        guard writableLength >= 1, let last = chain.writable.last, last.length > 0 else {
            counters.record(nil, ok: false)
            return 0
        }
        // Subtract before adding: a buffer may end exactly at the top of the address space.
        let statusAddress = GuestAddress(last.address.rawValue + (UInt64(last.length) - 1))
        let request = VirtioBlockRequest(chain: chain, memory: memory, disk: disk)
        let (type, status, dataWritten) = request.execute(
            serial: serial, maxDiscardSectors: maxDiscardSectors, maxDiscardSegments: maxDiscardSegments)
        counters.record(type, ok: status == .ok)
        // The address was validated as writable guest memory when the chain was read.
        try? memory.write(status.rawValue, at: statusAddress)
        return UInt32(truncatingIfNeeded: min(dataWritten + 1, writableLength))
    }
}

/// Counts of completed virtio-blk requests.
public struct VirtioBlockStatistics: Hashable, Sendable {
    /// Completed requests per type.
    public var byType: [VirtioBlock.RequestType: UInt64] = [:]
    /// Requests of an unknown type, or too short for a header or a status byte.
    public var unknown: UInt64 = 0
    /// Requests that completed with a status other than OK (or no status at all).
    public var failed: UInt64 = 0
    /// All requests.
    public var total: UInt64 { byType.values.reduce(unknown, +) }
}

/// Lock-free request counters: one per request type, unknown types, failures. `@unchecked`:
/// the pointer is written once in `init`, and every access after that is atomic.
final class RequestCounters: @unchecked Sendable {
    private static let types = VirtioBlock.RequestType.allCases
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private var slots: Int { Self.types.count + 2 }

    init() {
        counts = .allocate(capacity: Self.types.count + 2)
        for i in 0..<(Self.types.count + 2) { (counts + i).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: slots)
        counts.deallocate()
    }

    func record(_ type: VirtioBlock.RequestType?, ok: Bool) {
        let slot = type.flatMap { Self.types.firstIndex(of: $0) } ?? Self.types.count
        counts[slot].add(1, ordering: .relaxed)
        if !ok { counts[Self.types.count + 1].add(1, ordering: .relaxed) }
    }

    func snapshot() -> VirtioBlockStatistics {
        var s = VirtioBlockStatistics()
        for (i, type) in Self.types.enumerated() {
            let count = counts[i].load(ordering: .relaxed)
            if count > 0 { s.byType[type] = count }
        }
        s.unknown = counts[Self.types.count].load(ordering: .relaxed)
        s.failed = counts[Self.types.count + 1].load(ordering: .relaxed)
        return s
    }
}
