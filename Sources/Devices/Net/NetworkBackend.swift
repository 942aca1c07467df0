import HostSupport
import Synchronization
import SystemPackage

/// Where a virtio-net device's frames go and come from: a TAP device (``TapNetworkBackend``),
/// an in-memory link (``MemoryNetworkLink``) for tests, a Unix datagram socket
/// (``DatagramNetworkBackend``). Frames are whole Ethernet frames without any virtio header;
/// every call is non-blocking, with descriptors the device's event loop watches for readiness.
public protocol NetworkBackend: AnyObject, Sendable {
    /// Sends one frame without blocking.
    func send(_ frame: UnsafeRawBufferPointer) -> NetworkSendResult
    /// Receives one frame into `buffer` without blocking.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> NetworkReceiveResult
    /// Ready when a frame may be there to receive.
    var readableSignal: EndpointSignal { get }
    /// Ready when a send that returned ``NetworkSendResult/full`` may succeed.
    var writableSignal: EndpointSignal { get }
}

/// What a ``NetworkBackend`` send did.
public enum NetworkSendResult: Sendable, Hashable {
    /// The frame went out whole.
    case sent
    /// Nothing was sent: try again when ``NetworkBackend/writableSignal`` is ready.
    case full
    /// The backend refused this frame (too large, its peer gone): dropped.
    case dropped
}

/// What a ``NetworkBackend`` receive did.
public enum NetworkReceiveResult: Sendable, Hashable {
    /// A frame of this many bytes is in the buffer.
    case frame(Int)
    /// A frame larger than the buffer arrived and was dropped (its size, when known).
    case oversized(Int)
    /// Nothing now: wait for ``NetworkBackend/readableSignal``.
    case empty
}

/// One end of an in-memory Ethernet link: what one end sends, the other receives, in order, up
/// to a bounded number of frames in flight (a full link refuses frames until the other end
/// takes some). For tests and for embedders that switch frames themselves.
public final class MemoryNetworkLink: NetworkBackend {
    private final class Wire: Sendable {
        let queue = Mutex(FIFOQueue<[UInt8]>())
        /// Readable while frames may wait (the receiving end's signal).
        let arrived: EventFD
        /// Readable when room was made (the sending end's signal).
        let room: EventFD
        init() throws(SystemCallError) {
            arrived = try EventFD(nonBlocking: true)
            room = try EventFD(nonBlocking: true)
        }
    }

    private let outgoing: Wire
    private let incoming: Wire
    /// The most frames in flight in each direction.
    public let capacity: Int

    private init(outgoing: Wire, incoming: Wire, capacity: Int) {
        self.outgoing = outgoing
        self.incoming = incoming
        self.capacity = capacity
    }

    /// Two connected ends, each direction holding at most `capacity` frames.
    ///
    /// - Throws: `SystemCallError` from `eventfd`.
    public static func pair(capacity: Int = 256) throws(SystemCallError) -> (MemoryNetworkLink, MemoryNetworkLink) {
        let a = try Wire(), b = try Wire()
        return (
            MemoryNetworkLink(outgoing: a, incoming: b, capacity: max(1, capacity)),
            MemoryNetworkLink(outgoing: b, incoming: a, capacity: max(1, capacity))
        )
    }

    /// Queues a copy of `frame` for the other end; ``NetworkSendResult/full`` when `capacity`
    /// frames wait there.
    public func send(_ frame: UnsafeRawBufferPointer) -> NetworkSendResult {
        func enqueue() -> Bool {
            outgoing.queue.withLock { q -> Bool in
                guard q.count < capacity else { return false }
                q.append(Array(frame))
                return true
            }
        }
        if !enqueue() {
            // Full: clear the room signal, then look again — a frame taken after the look sets
            // it again, so the sender's wait for room cannot miss it.
            _ = try? outgoing.room.read()
            guard enqueue() else { return .full }
        }
        try? outgoing.arrived.signal()
        return .sent
    }

    /// Takes the next frame the other end sent.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> NetworkReceiveResult {
        // Reset the signal before looking, so a frame that arrives after the look sets it again.
        _ = try? incoming.arrived.read()
        let (frame, more) = incoming.queue.withLock { q in (q.popFirst(), q.count > 0) }
        guard let frame else { return .empty }
        // More may wait: keep the signal up; and the sender may go on.
        if more { try? incoming.arrived.signal() }
        try? incoming.room.signal()
        guard frame.count <= buffer.count else { return .oversized(frame.count) }
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return .frame(frame.count)
    }

    /// Frames sent by this end that the other has not taken.
    public var framesInFlight: Int { outgoing.queue.withLock { $0.count } }

    /// Readable when the other end sent something.
    public var readableSignal: EndpointSignal {
        EndpointSignal(descriptor: incoming.arrived.fileDescriptor, events: .readable)
    }
    /// Readable when the other end took something (room was made).
    public var writableSignal: EndpointSignal {
        EndpointSignal(descriptor: outgoing.room.fileDescriptor, events: .readable)
    }

    /// Whether a frame waits to be received at this end.
    public var hasFrame: Bool { incoming.queue.withLock { $0.count > 0 } }
}
