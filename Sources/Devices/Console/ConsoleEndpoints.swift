import HostSupport
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Where a console's output goes: written without blocking, with a descriptor the device's
/// event loop watches for room when a write takes nothing.
public protocol ConsoleOutput: AnyObject, Sendable {
    /// Writes some of `bytes` without blocking.
    func write(_ bytes: UnsafeRawBufferPointer) -> ConsoleWriteResult
    /// What the device's event loop waits for after ``ConsoleWriteResult/full``: it becomes
    /// ready when the output can take more. `nil` for an output that is never full (a regular
    /// file, which epoll cannot watch).
    var writableSignal: EndpointSignal? { get }
}

/// Where a console's input comes from: read without blocking, with a descriptor the device's
/// event loop watches for input.
public protocol ConsoleInput: AnyObject, Sendable {
    /// Reads some bytes into `buffer` without blocking.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ConsoleReadResult
    /// What the device's event loop waits for: it becomes ready when input (or its end) is
    /// there. `nil` for an input that is always ready (a regular file, which epoll cannot
    /// watch): the device then reads it whenever the driver posts receive buffers.
    var readableSignal: EndpointSignal? { get }
}

/// A descriptor and the events on it that mean an endpoint is ready (a console's input or
/// output, a network backend).
public struct EndpointSignal: Sendable, Hashable {
    /// The descriptor the loop watches (owned by the endpoint).
    public var descriptor: FileDescriptor
    /// The events that mean ready (`.readable` for an eventfd a buffer signals, `.writable`
    /// for a pipe or socket with room).
    public var events: EventLoop.Events

    /// A signal.
    public init(descriptor: FileDescriptor, events: EventLoop.Events) {
        self.descriptor = descriptor
        self.events = events
    }
}

/// What a ``ConsoleOutput`` write did.
public enum ConsoleWriteResult: Sendable, Hashable {
    /// It took this many bytes (at least one).
    case wrote(Int)
    /// It takes nothing now; ``ConsoleOutput/writableSignal`` says when to try again.
    case full
    /// The reader is gone (or the output failed): nothing will be taken again.
    case closed
}

/// What a ``ConsoleInput`` read did.
public enum ConsoleReadResult: Sendable, Hashable {
    /// It gave this many bytes (at least one).
    case read(Int)
    /// Nothing now; ``ConsoleInput/readableSignal`` says when.
    case empty
    /// The input ended (or failed): nothing will come again.
    case ended
}

/// A console endpoint over a file descriptor — a pipe, a Unix or TCP socket, a terminal, a
/// regular file — used for output, input or both (a socket).
///
/// The endpoint owns a duplicate of the descriptor, closed when it goes away, and puts it in
/// non-blocking mode — which the original shares (it is one open file description), so pass a
/// descriptor of the VMM's own (a pipe, a socket) rather than a terminal other processes use.
/// A write to a reader that went away reports ``ConsoleWriteResult/closed``, never `SIGPIPE`.
public final class FileDescriptorConsole: ConsoleOutput, ConsoleInput {
    private let owned: OwnedDescriptor
    /// A regular file: always ready, and not something epoll watches.
    private let isRegularFile: Bool

    /// The endpoint's own descriptor.
    public var descriptor: FileDescriptor { owned.raw }

    /// An endpoint over a duplicate of `descriptor`.
    ///
    /// - Throws: `SystemCallError` from `fcntl` (`F_DUPFD_CLOEXEC` or `O_NONBLOCK`): `EBADF`
    ///   for a descriptor that is not open.
    public init(_ descriptor: FileDescriptor) throws(SystemCallError) {
        let copy = try SystemCall.retrying("fcntl(F_DUPFD_CLOEXEC)") {
            fcntl(descriptor.rawValue, F_DUPFD_CLOEXEC, 0)
        }
        owned = OwnedDescriptor(rawValue: copy)
        var info = stat()
        isRegularFile = fstat(copy, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        try SystemCall.setNonBlocking(owned.raw)
    }

    /// One non-blocking `write(2)`: ``ConsoleWriteResult/full`` on `EAGAIN`,
    /// ``ConsoleWriteResult/closed`` on any failure (`EPIPE`: the reader went away).
    public func write(_ bytes: UnsafeRawBufferPointer) -> ConsoleWriteResult {
        guard bytes.count > 0 else { return .wrote(0) }
        do {
            guard let n = try SystemCall.writeSome(owned.raw, bytes, "console write") else { return .full }
            return n > 0 ? .wrote(n) : .full
        } catch {
            return .closed
        }
    }

    /// One non-blocking `read(2)`: ``ConsoleReadResult/empty`` on `EAGAIN`,
    /// ``ConsoleReadResult/ended`` at the end of input or on a failure.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ConsoleReadResult {
        do {
            guard let n = try SystemCall.readSome(owned.raw, into: buffer, "console read") else { return .empty }
            return n > 0 ? .read(n) : .ended
        } catch {
            return .ended
        }
    }

    /// The descriptor, writable (`nil` for a regular file).
    public var writableSignal: EndpointSignal? {
        isRegularFile ? nil : EndpointSignal(descriptor: owned.raw, events: .writable)
    }
    /// The descriptor, readable (`nil` for a regular file).
    public var readableSignal: EndpointSignal? {
        isRegularFile ? nil : EndpointSignal(descriptor: owned.raw, events: .readable)
    }
}

/// Console output kept in memory (for tests and for embedders that read it themselves), with
/// an optional capacity: a full buffer takes nothing more until ``take()`` empties it — a slow
/// reader, as far as the device is concerned. ``close()`` makes it a reader that went away.
public final class ConsoleOutputBuffer: ConsoleOutput {
    private struct State {
        var bytes: [UInt8] = []
        var closed = false
    }
    private let state = Mutex(State())
    private let room: EventFD
    /// The most bytes held before writes take nothing (`Int.max`: unbounded).
    public let capacity: Int

    /// An empty buffer holding at most `capacity` bytes.
    ///
    /// - Throws: `SystemCallError` when the eventfd behind ``writableSignal`` cannot be created.
    public init(capacity: Int = .max) throws(SystemCallError) {
        self.capacity = max(1, capacity)
        room = try EventFD(initialValue: 1, nonBlocking: true)
    }

    /// Appends as much of `bytes` as the capacity leaves room for.
    public func write(_ bytes: UnsafeRawBufferPointer) -> ConsoleWriteResult {
        state.withLock { s in
            if s.closed { return .closed }
            let n = min(bytes.count, capacity - s.bytes.count)
            guard n > 0 else {
                _ = try? room.read()  // no room: the signal stays quiet until take()
                return .full
            }
            s.bytes.append(contentsOf: bytes.prefix(n))
            return .wrote(n)
        }
    }

    /// Everything written so far and not taken; empties the buffer (making room).
    @discardableResult
    public func take() -> [UInt8] {
        let bytes = state.withLock { s in
            defer { s.bytes = [] }
            return s.bytes
        }
        try? room.signal()
        return bytes
    }

    /// What the buffer holds now, left in place.
    public var contents: [UInt8] { state.withLock { $0.bytes } }

    /// From now on every write reports ``ConsoleWriteResult/closed``.
    public func close() {
        state.withLock { $0.closed = true }
        try? room.signal()
    }

    /// An eventfd, readable once ``take()`` or ``close()`` made room after a full write.
    public var writableSignal: EndpointSignal? { EndpointSignal(descriptor: room.fileDescriptor, events: .readable) }
}

/// Console input fed from memory (for tests and for embedders that produce it themselves):
/// ``append(_:)`` adds bytes, ``finish()`` ends the input once they are read.
public final class ConsoleInputBuffer: ConsoleInput {
    private struct State {
        var bytes = ByteFIFO()
        var finished = false
    }
    private let state = Mutex(State())
    private let ready: EventFD

    /// An empty input.
    ///
    /// - Throws: `SystemCallError` when the eventfd behind ``readableSignal`` cannot be created.
    public init() throws(SystemCallError) {
        ready = try EventFD(nonBlocking: true)
    }

    /// Adds `bytes` to the input.
    public func append(_ bytes: some Sequence<UInt8>) {
        state.withLock { s in s.bytes.append(Array(bytes)) }
        try? ready.signal()
    }

    /// Ends the input: once what was appended is read, reads report ``ConsoleReadResult/ended``.
    public func finish() {
        state.withLock { $0.finished = true }
        try? ready.signal()
    }

    /// Bytes appended and not read yet.
    public var unread: Int { state.withLock { $0.bytes.count } }

    /// Takes the oldest unread bytes (as many as fit).
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ConsoleReadResult {
        state.withLock { s in
            let n = min(buffer.count, s.bytes.count)
            guard n > 0 else {
                _ = try? ready.read()
                // Re-signal if the end is due: the device must see it.
                if s.finished { try? ready.signal() }
                return s.finished ? .ended : .empty
            }
            s.bytes.withFirstBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            s.bytes.removeFirst(n)
            return .read(n)
        }
    }

    /// An eventfd, readable after ``append(_:)`` or ``finish()``.
    public var readableSignal: EndpointSignal? { EndpointSignal(descriptor: ready.fileDescriptor, events: .readable) }
}
