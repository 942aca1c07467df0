import DeviceModel
import Synchronization
import VCPU

/// The port device the guest reports to (see Guest/guest.S):
/// `+0` done (0 = success, else the failed step), `+4` checksum, `+8` capacity,
/// `+0x10` one worker result per other vCPU.
final class ReportDevice: PortIODevice {
    static let size: UInt64 = 0x20

    struct Reports: Codable, Sendable {
        var done: UInt32?
        var checksum: UInt32?
        var capacity: UInt32?
        var workers: [UInt32] = []
    }

    private let state = Mutex(Reports())

    var reports: Reports { state.withLock { $0 } }

    /// Continues from reports saved with a snapshot.
    func restore(_ reports: Reports) { state.withLock { $0 = reports } }

    func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
    }

    func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        var value: UInt32 = 0
        for (i, byte) in data.prefix(4).enumerated() { value |= UInt32(byte) << (8 * i) }
        state.withLock { r in
            switch offset {
            case 0: r.done = value
            case 4: r.checksum = value
            case 8: r.capacity = value
            case 0x10: r.workers.append(value)
            default: break
            }
        }
    }
}

/// What a worker vCPU must report: `index << 24 | (Σ k², k = 1 … 2000 + 100·index) mod 2^24`.
func expectedWorkerResult(index: UInt32) -> UInt32 {
    var sum: UInt32 = 0
    for k in 1...(2000 + 100 * index) { sum &+= k &* k }
    return index << 24 | (sum & 0xff_ffff)
}

/// FNV-1a (32-bit), as the guest computes it.
func fnv1a(_ bytes: [UInt8]) -> UInt32 {
    var hash: UInt32 = 0x811c_9dc5
    for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return hash
}
