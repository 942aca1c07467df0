import Synchronization
import SystemPackage

@testable import BlockStorage
@testable import VHD

/// An in-memory ``ImageIO`` that models a disk with a volatile write cache: writes become
/// durable only at `sync`. It can stop all I/O after a given number of writes (a crash), and
/// then produce the file a crash could leave behind: the durable bytes plus any chosen subset
/// of the writes issued since the last sync, applied in order.
final class FaultyIO: ImageIO {
    enum Operation: Sendable {
        case write(UInt64, [UInt8])
        case truncate(UInt64)
        case punch(UInt64, UInt64)
    }

    struct State: Sendable {
        var durable: [UInt8]
        var current: [UInt8]
        var pending: [Operation] = []
        /// Writes (writes, truncates, hole punches) allowed before the crash; nil = no limit.
        var writesLeft: Int?
        var crashed = false
        var writeCount = 0
        var syncCount = 0
    }

    let state: Mutex<State>

    init(bytes: [UInt8] = [], writesAllowed: Int? = nil) {
        state = Mutex(State(durable: bytes, current: bytes, writesLeft: writesAllowed))
    }

    var writeCount: Int { state.withLock { $0.writeCount } }
    var crashed: Bool { state.withLock { $0.crashed } }
    var current: [UInt8] { state.withLock { $0.current } }

    /// The file after a crash in which the pending operations selected by `keep` reached the disk.
    func crashImage(keep: (Int) -> Bool) -> [UInt8] {
        state.withLock { s in
            var bytes = s.durable
            for (i, op) in s.pending.enumerated() where keep(i) { Self.apply(op, to: &bytes) }
            return bytes
        }
    }

    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// The files a crash now could leave: all pending operations kept, all lost, each one alone
    /// lost and each one alone kept.
    func crashVariants() -> [(name: String, bytes: [UInt8])] {
        let pending = pendingCount
        var variants: [(name: String, bytes: [UInt8])] = [
            ("all kept", crashImage { _ in true }), ("all lost", crashImage { _ in false }),
        ]
        for i in 0..<pending where pending > 1 {
            variants.append(("write \(i) lost", crashImage { $0 != i }))
            variants.append(("only write \(i) kept", crashImage { $0 == i }))
        }
        return variants
    }

    static func apply(_ op: Operation, to bytes: inout [UInt8]) {
        switch op {
        case .write(let offset, let data):
            let end = Int(offset) + data.count
            if bytes.count < end { bytes += [UInt8](repeating: 0, count: end - bytes.count) }
            bytes.replaceSubrange(Int(offset)..<end, with: data)
        case .truncate(let size):
            if bytes.count > Int(size) {
                bytes.removeLast(bytes.count - Int(size))
            } else {
                bytes += [UInt8](repeating: 0, count: Int(size) - bytes.count)
            }
        case .punch(let offset, let length):
            let start = min(Int(offset), bytes.count), end = min(Int(offset + length), bytes.count)
            for i in start..<end { bytes[i] = 0 }
        }
    }

    private func perform(_ op: Operation) throws(BlockDeviceError) {
        try state.withLock { (s) throws(BlockDeviceError) in
            if s.crashed { throw .io(operation: "write", errno: .ioError) }
            if let left = s.writesLeft {
                if left == 0 {
                    s.crashed = true
                    throw .io(operation: "write", errno: .ioError)
                }
                s.writesLeft = left - 1
            }
            s.writeCount += 1
            Self.apply(op, to: &s.current)
            s.pending.append(op)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) -> Int {
        state.withLock { s in
            guard offset < UInt64(s.current.count) else { return 0 }
            let n = min(buffer.count, s.current.count - Int(offset))
            s.current.withUnsafeBytes {
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + n]))
            }
            return n
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        try perform(.write(offset, Array(buffer)))
    }

    func size() throws(BlockDeviceError) -> UInt64 { state.withLock { UInt64($0.current.count) } }

    func truncate(to size: UInt64) throws(BlockDeviceError) { try perform(.truncate(size)) }

    func sync() throws(BlockDeviceError) {
        try state.withLock { (s) throws(BlockDeviceError) in
            if s.crashed { throw .io(operation: "fdatasync", errno: .ioError) }
            s.durable = s.current
            s.pending.removeAll()
            s.syncCount += 1
        }
    }

    func punchHole(at offset: UInt64, length: UInt64) throws(BlockDeviceError) { try perform(.punch(offset, length)) }
}
