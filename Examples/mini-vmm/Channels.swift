import DeviceModel
import Foundation
import HostSupport
import Machine
import Synchronization
import SystemPackage
import VirtioGuests

#if canImport(Glibc)
    import Glibc
#endif

/// `mini-vmm --channels`: a VM whose guest talks to the host through a virtio console and a
/// vsock stream (the Machine target's `virtioConsole` and `vsock`). The guest (Examples/
/// VirtioGuests/vsock_guest.S) narrates on the virtio console — here the VMM's standard output —,
/// connects to host port 5000 (the Unix socket `<dir>/vm.vsock_5000`, where this host side
/// listens), sends a line, reads the host's reply, sends it back and closes.
enum ChannelsDemo {
    static let hostPort: UInt32 = 5000
    static let message = "hello over vsock\n"
    static let reply = "hello from the host\n"

    /// The guest's report port (0x5f0): 0 when every step worked, else the step that failed.
    final class Report: PortIODevice {
        let value = Mutex<UInt32?>(nil)
        func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
            for i in data.indices { data[i] = 0 }
        }
        func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
            guard data.count == 4 else { return }
            value.withLock { $0 = UInt32(littleEndian: data.loadUnaligned(as: UInt32.self)) }
        }
    }

    /// Runs the demo in `directory`; returns whether the guest and the host side both did all
    /// they should. Prints what each side saw.
    static func run(in directory: URL, timeoutSeconds: Double) throws -> Bool {
        let guest = directory.appendingPathComponent("channels-guest.bin").path
        try Data(bytes: virtio_vsock_guest_bytes(), count: virtio_vsock_guest_size()).write(
            to: URL(fileURLWithPath: guest))
        let socketPath = directory.appendingPathComponent("vm.vsock").path
        let listener = try UnixSocket.listen(at: "\(socketPath)_\(hostPort)")
        let configuration = VirtualMachineConfiguration(
            name: "channels", vcpuCount: 1, memorySize: 4 << 20,
            boot: .flatBinary(
                FlatBinaryBoot(
                    path: guest, loadAddress: UInt64(VIRTIO_CONSOLE_GUEST_LOAD_ADDRESS), mode: .long,
                    stackBase: 0x7_0000)),
            console: .none, virtioConsole: .standardOutput,
            vsock: VsockConfiguration(guestCID: 3, hostSocketPath: socketPath))
        let report = Report()
        let vm = try VirtualMachine(configuration: configuration, devices: [.portIO(report, base: 0x5F0, size: 4)])
        say("channels: virtio console on standard output, vsock for guest CID 3 at \(socketPath)")
        try vm.start()

        // The host side: accept the guest's stream, read its line, reply, read the echo to the end.
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var hostDone = false
        var accepted: OwnedDescriptor? = nil
        while accepted == nil && Date() < deadline && vm.waitUntilStopped(timeout: 0.001) == nil {
            accepted = try UnixSocket.accept(listener.raw)
        }
        if let socket = accepted {
            let received = readLine(from: socket.raw, deadline: deadline)
            say("host: received over vsock: \(received.trimmingCharacters(in: .newlines))")
            _ = try Array(reply.utf8).withUnsafeBytes { try SystemCall.writeSome(socket.raw, $0, "write") }
            let echo = readToEnd(from: socket.raw, deadline: deadline)
            say("host: received over vsock: \(echo.trimmingCharacters(in: .newlines)) (then the end of the stream)")
            hostDone = received == message && echo == "echo: " + reply
        }
        let outcome = vm.waitUntilStopped(timeout: max(0, deadline.timeIntervalSinceNow))
        if outcome == nil { _ = vm.stop() }
        let reported = report.value.withLock { $0 }
        let vsock = vm.vsockDevice?.statistics
        let console = vm.virtioConsole?.statistics
        say(
            "channels: guest reported \(reported.map(String.init) ?? "nothing"), VM \(outcome.map { "\($0)" } ?? "timed out"); "
                + "vsock \(vsock?.connectionsFromGuest ?? 0) connection(s), \(vsock?.bytesFromGuest ?? 0) bytes from the guest, "
                + "\(vsock?.bytesToGuest ?? 0) to it; virtio console \(console?.bytesOutput ?? 0) bytes out")
        let ok = reported == 0 && hostDone && outcome == .poweredOff
        say(ok ? "channels: virtio-console and vsock worked" : "channels: FAILED")
        return ok
    }

    static func say(_ line: String) {
        print(line)
        fflush(nil)  // every stream: the console pump writes to fd 1 directly
    }

    static func readLine(from socket: FileDescriptor, deadline: Date) -> String {
        var bytes: [UInt8] = []
        while !bytes.contains(10), let chunk = readSome(socket, deadline: deadline), !chunk.isEmpty { bytes += chunk }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func readToEnd(from socket: FileDescriptor, deadline: Date) -> String {
        var bytes: [UInt8] = []
        while let chunk = readSome(socket, deadline: deadline), !chunk.isEmpty { bytes += chunk }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What one read returns (empty at the end), waiting while nothing is there; `nil` on an
    /// error or at the deadline.
    static func readSome(_ socket: FileDescriptor, deadline: Date) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 512)
        while Date() < deadline {
            let n: Int?
            do { n = try buffer.withUnsafeMutableBytes { try SystemCall.readSome(socket, into: $0, "read") } } catch {
                return nil
            }
            if let n { return Array(buffer[..<n]) }
            usleep(1000)
        }
        return nil
    }
}
