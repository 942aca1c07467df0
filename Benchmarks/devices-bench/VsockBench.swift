// The vsock table (`devices-bench --only vsock`): stream throughput through VirtioVsockDevice,
// Firecracker's host-side design (host processes reach guest ports through a Unix socket), in
// MiB/s, for messages of 4 KiB and 64 KiB, against the same bytes through a Unix socket pair.
//
// - host → guest: a host thread connects to the device's socket (`CONNECT 5000`), then writes N
//   bytes in messages of the size; the driver, playing the guest on the main thread
//   (``VsockGuestDriver``), keeps 128 receive buffers of 44 B + 64 KiB posted, checks every RW
//   payload against the pattern, and returns credit (buf_alloc 2 MiB) with CREDIT_UPDATE once
//   half of it was consumed. Timed from the first write to the last byte checked in the guest.
// - guest → host: the guest connects to host port 6000 (the device connects to `<path>_6000`,
//   where the benchmark listens) and sends RW packets of the message size, within the device's
//   credit (its buf_alloc, `--vsock-buffer-kib`, and fwd_cnt from its RESPONSE, CREDIT_UPDATE
//   and other headers), up to 128 packets in flight; a host thread reads the socket in reads of
//   the message size and checks every byte. Timed until the host thread has read the last byte.
// - baseline: a `socketpair(AF_UNIX, SOCK_STREAM)`, one thread writing and another reading the
//   same bytes in the same message sizes, checked the same way: what the host kernel does for one
//   copy in and one copy out. The device's path has two more copies (the device's read or write
//   of the host socket, its scatter into or gather from guest memory), a third thread, and the
//   queue protocol; the ratio is device / baseline MiB/s (target ≥ 0.5×).
//
// Every byte of every round is checked where it arrives (a prime-period random pattern:
// `VsockPattern`), so the speeds are of real, ordered transfers; the device's statistics must
// show no reset, malformed packet or credit violation, and the byte counts must match.
//
// Where the time goes (perf record -e cpu-clock, strace -c; 2 vCPUs). Host → guest reaches
// 0.75–1.0× the socket pair: one read(2) of the host socket per receive buffer, straight into a
// 64 KiB packet. Guest → host is bound by the credit window and by the device's event-loop
// thread. The device copies each RW payload from guest memory into the connection's outbox and
// writes the outbox to the host socket once per transmit pass (`send` with MSG_NOSIGNAL: one
// system call, where the first version made one write per packet plus three calls of a SIGPIPE
// guard, 0.30–0.45×); a pass takes at most a quarter of the buffer, after which the device tells
// the guest of the room it made, so a streaming guest gets credit back before it runs out. With
// a 256 KiB buf_alloc (Linux's default) a guest sending 64 KiB packets still waits for credit
// about once per packet (≈ 17 driver sleeps per MiB, each a thread wake-up of tens of µs here):
// 0.45–0.52×; with the device's default 1 MiB, 0.70× (`--vsock-buffer-kib` sets it).
import ArgumentParser
import BenchmarkSupport
import DeviceModel
import Devices
import GuestMemory
import HostSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The vsock table's options.
struct VsockBenchOptions: ParsableArguments {
    @Option(help: "MiB moved per vsock measurement (each direction and message size, and the socket pair; 0 skips).")
    var vsockMib = 256

    @Option(help: "The vsock device's per-connection buffer (the buf_alloc it advertises), in KiB.")
    var vsockBufferKib = Int(VirtioVsockDevice.defaultBufferAllocation >> 10)
}

extension DevicesBench {
    func benchmarkVsock(rounds: Int, into report: inout BenchmarkReport) throws {
        let bytes = vsock.vsockMib << 20
        let bench = try VsockBench(deviceBuffer: UInt32(vsock.vsockBufferKib) << 10)
        try bench.open()
        // Warm-up: guest pages and socket buffers touched, both directions, both sizes.
        for message in VsockBench.messages {
            _ = try bench.hostToGuest(bytes: 16 << 20, message: message)
            _ = try bench.guestToHost(bytes: 16 << 20, message: message)
            _ = try VsockBench.socketPair(bytes: 16 << 20, message: message, pattern: bench.pattern)
        }
        bench.traffic = [:]
        var pair: [Int: [Double]] = [:], toGuest: [Int: [Double]] = [:], toHost: [Int: [Double]] = [:]
        for _ in 0..<rounds {
            for message in VsockBench.messages {
                pair[message, default: []].append(
                    try VsockBench.socketPair(bytes: bytes, message: message, pattern: bench.pattern))
                toGuest[message, default: []].append(try bench.hostToGuest(bytes: bytes, message: message))
                toHost[message, default: []].append(try bench.guestToHost(bytes: bytes, message: message))
            }
        }
        try bench.close()
        for message in VsockBench.messages {
            let size = "\(message >> 10) KiB"
            let p = Summary(pair[message]!), g = Summary(toGuest[message]!), h = Summary(toHost[message]!)
            report.add(row("vsock baseline: Unix socket pair, \(size) messages", p, unit: "MiB/s", ratio: nil))
            report.add(row("vsock host → guest, \(size) messages", g, unit: "MiB/s", ratio: g.median / p.median))
            report.add(row("vsock guest → host, \(size) messages", h, unit: "MiB/s", ratio: h.median / p.median))
        }
        report.note(
            "vsock: \(vsock.vsockMib) MiB per measurement, every byte checked; ratios are device / socket pair MiB/s (higher is better; target ≥ 0.5). Device buf_alloc \(vsock.vsockBufferKib) KiB, guest buf_alloc 2 MiB, 128 receive buffers of 44 B + 64 KiB, 128 transmit slots, event indices"
        )
        for toGuest in [true, false] {
            for message in VsockBench.messages {
                let key = VsockBench.Key(toGuest: toGuest, message: message)
                if let traffic = bench.traffic[key] { report.note(traffic.describe(key)) }
            }
        }
    }
}

/// One device, its transport on an event loop, the guest driver, and the two connections the
/// measurements use (host → guest opened by a host process, guest → host opened by the guest),
/// each a continuous stream of ``VsockPattern`` across measurements.
final class VsockBench {
    static let messages = [4 << 10, 64 << 10]
    static let guestPort: UInt32 = 5000
    static let hostPort: UInt32 = 6000

    struct Key: Hashable {
        var toGuest: Bool
        var message: Int
    }

    /// The protocol's work per measurement, summed over the measured rounds.
    struct Traffic {
        var bytes = 0, dataPackets = 0, packets = 0, guestPackets = 0, interrupts: UInt64 = 0, notifications: UInt64 = 0
        var loopWakeups: UInt64 = 0, kicks = 0, sleeps = 0, stalls = 0

        func describe(_ key: Key) -> String {
            let mib = Double(bytes) / Double(1 << 20)
            func per(_ n: some BinaryInteger) -> String { formatted(Double(n) / mib) }
            func formatted(_ x: Double) -> String { String((x * 10).rounded() / 10) }
            let direction = key.toGuest ? "host → guest" : "guest → host"
            return
                "vsock \(direction), \(key.message >> 10) KiB: \(formatted(Double(bytes) / Double(max(1, dataPackets)) / 1024)) KiB per RW packet; per MiB: \(per(packets)) packets to the guest, \(per(guestPackets)) from it, \(per(interrupts)) interrupts, \(per(notifications)) notifications taken (\(per(kicks)) sent), \(per(loopWakeups)) event-loop wake-ups, \(per(sleeps)) driver sleeps; \(stalls) stalls"
        }
    }

    let path = "/tmp/devices-bench-vsock-\(getpid()).sock"
    let pattern = VsockPattern()
    let memory: GuestMemoryMap
    let interrupt: EventFD
    let device: VirtioVsockDevice
    let transport: VirtioMMIOTransport
    let loop: EventLoop
    let registration: DeviceEventRegistration
    let driver: VsockGuestDriver
    let listener: HostSocket
    private var inbound: (host: HostSocket, stream: VsockGuestDriver.Stream)?
    private var outbound: (host: HostSocket, stream: VsockGuestDriver.Stream)?
    /// Bytes the host wrote on `inbound` so far.
    private var written: UInt64 = 0
    var traffic: [Key: Traffic] = [:]

    init(deviceBuffer: UInt32) throws {
        memory = try GuestMemoryMap(regions: [
            MmapRegion(guestBase: GuestAddress(0), size: VsockGuestDriver.memorySize)
        ])
        interrupt = try EventFD(nonBlocking: true)
        listener = HostSocket(try UnixSocket.listen(at: "\(path)_\(Self.hostPort)"))
        device = try VirtioVsockDevice(
            guestCID: VsockGuestDriver.guestCID, hostSocketPath: path, queueSize: VsockGuestDriver.queueSize,
            bufferAllocation: deviceBuffer, maxPayload: UInt32(VsockGuestDriver.maxPayload))
        transport = try VirtioMMIOTransport(backend: device, memory: memory, interrupt: interrupt)
        // Set up before the loop runs (its first notification waits in the eventfd).
        driver = try VsockGuestDriver(transport: transport, memory: memory, interrupt: interrupt, pattern: pattern)
        loop = try EventLoop(name: "bench-vsock")
        registration = try loop.serve(transport)
        try loop.start()
    }

    deinit {
        registration.cancel()
        loop.stop()
        unlink("\(path)_\(Self.hostPort)")
    }

    /// Opens both connections.
    func open() throws {
        // A host process connects to guest port 5000; the guest accepts.
        driver.listening.insert(Self.guestPort)
        let host = HostSocket(try UnixSocket.connect(to: path))
        try host.writeAll(Array("CONNECT \(Self.guestPort)\n".utf8))
        let stream = try driver.accepted(on: Self.guestPort)
        let ok = try host.readLine()
        guard ok == "OK \(stream.hostPort)" else { throw BenchError("vsock: the host process read '\(ok)'") }
        try host.setBlocking()
        inbound = (host, stream)
        // The guest connects to host port 6000; the benchmark accepts.
        let outgoing = try driver.connect(from: 1024, to: Self.hostPort)
        let accepted = HostSocket(try listener.accept())
        try accepted.setBlocking()
        outbound = (accepted, outgoing)
    }

    /// Closes both connections from the guest and checks what the device counted.
    func close() throws {
        guard let inbound, let outbound else { return }
        try driver.close(inbound.stream)
        try driver.close(outbound.stream)
        let s = device.statistics
        guard s.connectionsReset == 0, s.malformedPackets == 0, s.creditViolations == 0, s.timedOut == 0,
            s.bytesToGuest == inbound.stream.received, s.bytesFromGuest == outbound.stream.sent,
            inbound.stream.corrupt == 0, transport.lastError == nil
        else {
            throw BenchError(
                "vsock: the device's statistics show a fault: \(s), \(inbound.stream.corrupt) corrupt packets")
        }
    }

    private func snapshot(toGuest: Bool) -> Traffic {
        let t = transport.statistics, d = driver.counters
        return Traffic(
            bytes: 0, dataPackets: toGuest ? d.dataReceived : d.dataSent, packets: d.received, guestPackets: d.sent,
            interrupts: t.interrupts,
            notifications: t.notifications, loopWakeups: loop.statistics.wakeups, kicks: d.kicks, sleeps: d.sleeps,
            stalls: d.stalls)
    }

    private func record(_ key: Key, bytes: Int, since before: Traffic) {
        let after = snapshot(toGuest: key.toGuest)
        var t = traffic[key, default: Traffic()]
        t.bytes += bytes
        t.dataPackets += after.dataPackets - before.dataPackets
        t.packets += after.packets - before.packets
        t.guestPackets += after.guestPackets - before.guestPackets
        t.interrupts += after.interrupts - before.interrupts
        t.notifications += after.notifications - before.notifications
        t.loopWakeups += after.loopWakeups - before.loopWakeups
        t.kicks += after.kicks - before.kicks
        t.sleeps += after.sleeps - before.sleeps
        t.stalls += after.stalls - before.stalls
        traffic[key] = t
    }

    /// A host thread writes `bytes` in `message`-byte writes; the guest takes them. MiB/s.
    func hostToGuest(bytes: Int, message: Int) throws -> Double {
        guard let inbound else { throw BenchError("vsock: not open") }
        let stream = inbound.stream
        let target = stream.received + UInt64(bytes)
        let fd = inbound.host.fd, offset = written, pattern = pattern
        let outcome = HostOutcome()
        let before = snapshot(toGuest: true)
        let start = monotonicNanoseconds()
        let writer = try HostThread.spawn {
            outcome.finish(ok: writePattern(fd, pattern, from: offset, count: bytes, message: message))
        }
        do {
            try driver.run { stream.received >= target || outcome.failed }
        } catch {
            shutdown(fd, Int32(SHUT_RDWR))  // the writer may be blocked on a full socket
            writer.join()
            throw error
        }
        let elapsed = monotonicNanoseconds() - start
        writer.join()
        written += UInt64(bytes)
        record(Key(toGuest: true, message: message), bytes: bytes, since: before)
        guard outcome.succeeded, stream.received == target, stream.corrupt == 0 else {
            throw BenchError("vsock host → guest: \(stream.received) of \(target) bytes, \(stream.corrupt) corrupt")
        }
        return mebibytesPerSecond(bytes, elapsed)
    }

    /// The guest sends `bytes` in `message`-byte packets; a host thread reads them. MiB/s.
    func guestToHost(bytes: Int, message: Int) throws -> Double {
        guard let outbound else { throw BenchError("vsock: not open") }
        let stream = outbound.stream
        let fd = outbound.host.fd, offset = stream.sent, pattern = pattern
        let outcome = HostOutcome()
        let before = snapshot(toGuest: false)
        let start = monotonicNanoseconds()
        let reader = try HostThread.spawn {
            outcome.finish(ok: readPattern(fd, pattern, from: offset, count: bytes, message: message))
        }
        var left = bytes
        do {
            try driver.run {
                left -= try driver.send(left, packet: message, on: stream)
                return left == 0 || outcome.failed
            }
        } catch {
            shutdown(fd, Int32(SHUT_RDWR))  // the reader may be blocked on an empty socket
            reader.join()
            throw error
        }
        reader.join()
        let elapsed = outcome.finishedAt - start
        record(Key(toGuest: false, message: message), bytes: bytes, since: before)
        guard outcome.succeeded, left == 0 else { throw BenchError("vsock guest → host: the host read failed") }
        return mebibytesPerSecond(bytes, elapsed)
    }

    /// The baseline: the same bytes through a Unix socket pair, written on another thread and
    /// read and checked on this one. MiB/s.
    static func socketPair(bytes: Int, message: Int, pattern: VsockPattern) throws -> Double {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw BenchError("socketpair failed: errno \(errno)")
        }
        defer { for fd in fds { Glibc.close(fd) } }
        let fd = fds[1]
        let outcome = HostOutcome()
        let start = monotonicNanoseconds()
        let writer = try HostThread.spawn {
            outcome.finish(ok: writePattern(fd, pattern, from: 0, count: bytes, message: message))
        }
        let read = readPattern(fds[0], pattern, from: 0, count: bytes, message: message)
        let elapsed = monotonicNanoseconds() - start
        if !read { shutdown(fds[0], Int32(SHUT_RDWR)) }  // the writer may be blocked on a full socket
        writer.join()
        guard read, outcome.succeeded else { throw BenchError("socket pair: a transfer failed") }
        return mebibytesPerSecond(bytes, elapsed)
    }
}

func mebibytesPerSecond(_ bytes: Int, _ nanoseconds: UInt64) -> Double {
    Double(bytes) / Double(1 << 20) / (Double(nanoseconds) / 1e9)
}

/// A host process's socket (closed when this goes).
final class HostSocket {
    private let owned: OwnedDescriptor
    var fd: Int32 { owned.raw.rawValue }

    init(_ owned: consuming OwnedDescriptor) { self.owned = owned }

    func setBlocking() throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else { throw BenchError("fcntl failed") }
    }

    /// Waits (up to 10 s) until the socket is readable.
    private func waitReadable() throws {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 10_000) == 1 else { throw BenchError("vsock: waited 10 s for a host socket") }
    }

    func accept() throws -> OwnedDescriptor {
        try waitReadable()
        guard let accepted = try UnixSocket.accept(owned.raw) else { throw BenchError("vsock: nothing to accept") }
        return accepted
    }

    func writeAll(_ bytes: [UInt8]) throws {
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw BenchError("vsock: a host write failed")
        }
    }

    /// Reads a line a byte at a time (no byte after it is taken), without its newline.
    func readLine() throws -> String {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            try waitReadable()
            guard read(fd, &byte, 1) == 1 else { throw BenchError("vsock: the host socket ended") }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }
}

/// How a host thread's transfer ended, and when.
final class HostOutcome: Sendable {
    private let state = Atomic<Int>(0)  // 0 running, 1 succeeded, 2 failed
    private let end = Atomic<UInt64>(0)

    func finish(ok: Bool) {
        end.store(monotonicNanoseconds(), ordering: .relaxed)
        state.store(ok ? 1 : 2, ordering: .releasing)
    }

    var failed: Bool { state.load(ordering: .acquiring) == 2 }
    var succeeded: Bool { state.load(ordering: .acquiring) == 1 }
    var finishedAt: UInt64 { end.load(ordering: .relaxed) }
}

/// Writes `count` bytes of the pattern from stream offset `offset` to `fd`, in writes of
/// `message` bytes (a blocking socket); whether all were written.
func writePattern(_ fd: Int32, _ pattern: VsockPattern, from offset: UInt64, count: Int, message: Int) -> Bool {
    var done = 0
    while done < count {
        let n = write(fd, pattern.at(offset + UInt64(done)), min(message, count - done))
        if n > 0 {
            done += n
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            return false
        }
    }
    return true
}

/// Reads `count` bytes from `fd` in reads of at most `message` bytes (a blocking socket), each
/// checked against the pattern from stream offset `offset`; whether all came, and right.
func readPattern(_ fd: Int32, _ pattern: VsockPattern, from offset: UInt64, count: Int, message: Int) -> Bool {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: message, alignment: 4096)
    defer { buffer.deallocate() }
    var done = 0
    while done < count {
        let n = read(fd, buffer, min(message, count - done))
        if n > 0 {
            guard memcmp(buffer, pattern.at(offset + UInt64(done)), n) == 0 else { return false }
            done += n
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            return false
        }
    }
    return true
}
