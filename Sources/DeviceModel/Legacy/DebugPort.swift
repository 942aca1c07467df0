import Synchronization

/// Port 0x80, where firmware and kernels write progress (POST) codes and which Linux also uses
/// as an I/O delay: put it on a ``PortIOBus`` at `0x80` with size 1. It records the last value
/// written and how many writes there were; reads return 0xFF.
public final class DebugPort: PortIODevice {
    private let state = Mutex((last: UInt8?.none, writes: UInt64(0)))

    /// A debug port that records nothing yet.
    public init() {}

    /// The last value written, if any.
    public var lastCode: UInt8? { state.withLock { $0.last } }
    /// How many writes the port has seen.
    public var writes: UInt64 { state.withLock { $0.writes } }

    /// Reads 0xFF.
    public func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0xFF }
    }

    /// Records the byte written.
    public func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        guard let byte = data.first else { return }
        state.withLock {
            $0.last = byte
            $0.writes += 1
        }
    }
}
