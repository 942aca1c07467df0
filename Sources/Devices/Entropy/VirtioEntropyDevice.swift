import GuestMemory
import HostSupport
import Synchronization

/// Constants of the virtio entropy device (virtio 1.2, section 5.4).
public enum VirtioEntropy {
    /// The device id: 4, an entropy source.
    public static let deviceID: UInt32 = 4
}

/// A virtio entropy device (virtio-rng): one request queue whose writable buffers it fills from
/// the host kernel's random number generator (`getrandom(2)`, which never blocks once the
/// kernel's pool is initialised), writing straight into the guest pages.
///
/// A request is filled up to ``maxBytesPerRequest`` (the rest of a larger chain is left
/// unwritten and the used length says how much is valid, which the specification allows); a
/// chain without writable buffers completes with nothing written. Readable buffers are ignored.
public final class VirtioEntropyDevice: VirtioDeviceBackend {
    /// The size of the request queue offered.
    public let queueSize: UInt16
    /// The most bytes one request receives.
    public let maxBytesPerRequest: Int

    private let requests = Atomic<UInt64>(0)
    private let bytes = Atomic<UInt64>(0)
    private let failures = Atomic<UInt64>(0)

    /// An entropy device with a queue of `queueSize` entries, giving each request at most
    /// `maxBytesPerRequest` bytes (default 64 KiB, what Linux's hw_random core asks at most).
    ///
    /// - Throws: ``VirtqueueError/invalidSize(_:)`` unless `queueSize` is a power of two from 1
    ///   to 32768, or when `maxBytesPerRequest` is not positive (carried as the size).
    public init(queueSize: UInt16 = 64, maxBytesPerRequest: Int = 64 << 10) throws(VirtqueueError) {
        guard queueSize >= 1, queueSize <= 32768, queueSize & (queueSize - 1) == 0 else {
            throw .invalidSize(UInt32(queueSize))
        }
        guard maxBytesPerRequest > 0 else { throw .invalidSize(0) }
        self.queueSize = queueSize
        self.maxBytesPerRequest = maxBytesPerRequest
    }

    /// 4, an entropy source.
    public var deviceID: UInt32 { VirtioEntropy.deviceID }
    /// `VERSION_1` only: the device has no feature bits of its own.
    public var deviceFeatures: UInt64 { VirtioFeature.version1 }
    /// One request queue.
    public var queueSizeMax: [UInt16] { [queueSize] }
    /// No configuration space: every byte reads as zero.
    public func readConfig(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        VirtioConfigSpace(size: 0).read(offset: offset, into: data)
    }

    /// Requests completed, bytes given, and requests that got fewer bytes than they could take
    /// because the kernel's generator failed.
    public var statistics: VirtioEntropyStatistics {
        VirtioEntropyStatistics(
            requests: requests.load(ordering: .relaxed), bytes: bytes.load(ordering: .relaxed),
            failures: failures.load(ordering: .relaxed))
    }

    /// Fills the chain's writable buffers (up to ``maxBytesPerRequest``) with random bytes;
    /// returns the number written.
    public func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32 {
        let wanted = Int(min(chain.writableLength, UInt64(maxBytesPerRequest)))
        var done = 0
        var failed = false
        for (address, length) in BufferWindow(buffers: chain.writable, offset: 0, count: UInt64(wanted)) {
            // Into the guest pages directly (their range was checked when the chain was read).
            let filled = try? memory.withHostSegments(at: address, count: length, forWriting: true) {
                segments -> (result: Int, bytesWritten: Int) in
                var n = 0
                for segment in segments {
                    guard (try? HostEntropy.fill(segment)) != nil else { break }
                    n += segment.count
                }
                return (n, n)
            }
            done += filled ?? 0
            if filled != length {
                failed = true
                break
            }
        }
        requests.add(1, ordering: .relaxed)
        bytes.add(UInt64(done), ordering: .relaxed)
        if failed { failures.add(1, ordering: .relaxed) }
        return UInt32(done)
    }
}

/// What a ``VirtioEntropyDevice`` has done.
public struct VirtioEntropyStatistics: Sendable, Hashable {
    /// Requests completed.
    public var requests: UInt64
    /// Random bytes written into guest memory.
    public var bytes: UInt64
    /// Requests that got fewer bytes than they could take (the kernel's generator failed).
    public var failures: UInt64
}
