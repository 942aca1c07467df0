import DeviceModel
import Foundation
import HostSupport
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The serial console on a Unix stream socket the VM listens on (QEMU's `-serial
/// unix:PATH,server=on,wait=off`): one client at a time reads the guest's output and types its
/// input; a client that connects late first gets the last ``replayCapacity`` bytes of output (the
/// boot log). Output to a client that does not keep up is dropped and counted, never waited for:
/// a vCPU writing to the UART never blocks on the socket.
///
/// The socket file is created by the VM and removed when it is closed; an existing socket file
/// at the path (left by a process that died) is replaced, any other file is refused.
final class SocketConsole: Sendable {
    /// How much recent output a new client is sent first.
    static let replayCapacity = 64 << 10
    /// The most input bytes taken from the client per read.
    static let readChunk = 4096

    let path: String
    private let listenerSocket: OwnedDescriptor
    private var listener: Int32 { listenerSocket.raw.rawValue }
    private let stop: EventFD
    private let state = Mutex(State())
    private let thread = Mutex<HostThread?>(nil)

    struct State {
        var client: Int32 = -1
        var replay: [UInt8] = []
        var dropped: UInt64 = 0
        var closed = false
    }

    /// Creates and binds the socket at `path` and starts listening (the accepting thread starts
    /// with ``start(serial:)``).
    init(path: String) throws {
        let socket = try UnixSocket.listen(at: path, backlog: 1)
        do {
            stop = try EventFD(nonBlocking: true)
        } catch {
            unlink(path)
            throw error
        }
        self.path = path
        listenerSocket = socket
    }

    deinit { close() }

    /// Bytes of output no client could take.
    var droppedBytes: UInt64 { state.withLock { $0.dropped } }

    /// The output closure for the UART: to the client if there is one, always into the replay
    /// buffer.
    var output: @Sendable (UInt8) -> Void {
        { [self] byte in
            state.withLock { s in
                s.replay.append(byte)
                if s.replay.count > Self.replayCapacity { s.replay.removeFirst(s.replay.count - Self.replayCapacity) }
                guard s.client >= 0 else { return }
                var b = byte
                if send(s.client, &b, 1, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)) != 1 { s.dropped += 1 }
            }
        }
    }

    /// Starts the thread that accepts a client and feeds its input to `serial`.
    func start(serial: Serial16550) throws {
        let spawned = try HostThread.spawn { [self] in serve(serial) }
        thread.withLock { $0 = spawned }
    }

    /// Stops the thread, closes the sockets and removes the socket file (once).
    func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        try? stop.signal()
        thread.withLock { $0 }?.join()
        state.withLock { s in
            if s.client >= 0 { Glibc.close(s.client) }
            s.client = -1
        }
        unlink(path)  // the listener itself is closed with the object
    }

    /// Accepts one client at a time (others wait in the backlog), replays recent output to it and
    /// hands its input to the UART, until ``close()``.
    private func serve(_ serial: Serial16550) {
        var buffer = [UInt8](repeating: 0, count: Self.readChunk)
        while true {
            let client = state.withLock { $0.client }
            var fds = [
                pollfd(fd: stop.fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: client >= 0 ? client : listener, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
            if fds[0].revents != 0 { return }
            guard fds[1].revents != 0 else { continue }
            if client < 0 {
                let accepted = accept(listener, nil, nil)
                guard accepted >= 0 else { continue }
                _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
                state.withLock { s in
                    s.client = accepted
                    _ = s.replay.withUnsafeBytes {
                        send(accepted, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
                    }
                }
                continue
            }
            let count = read(client, &buffer, buffer.count)
            if count <= 0 {
                state.withLock { s in
                    Glibc.close(s.client)
                    s.client = -1
                }
                continue
            }
            serial.enqueueInput(Array(buffer[0..<count]))
        }
    }
}
