import DeviceModel
import Foundation
import HostSupport
import KVM
import Machine
import Synchronization
import SystemPackage
import TestSupport
import Testing
import VirtioGuests

/// A VM configured with a vsock device places it after the other virtio devices, tells a flat
/// binary where it is (R10/R11), and connects the guest's streams to host processes through the
/// configured Unix socket: the assembly vsock driver connects to host port 5000, exchanges a
/// line with a host process and closes, narrating on the virtio console (R8/R9). A configuration with a reserved context id or an
/// unusable socket path is refused before anything is built.
struct VsockMachineTests {
    func configuration(
        in dir: TemporaryDirectory, vsock: VsockConfiguration, virtioConsole: ConsoleConfiguration? = nil
    ) throws -> VirtualMachineConfiguration {
        try VirtioConsoleMachineTests.guestConfiguration(
            "vsock", program: virtio_vsock_guest_bytes(), size: virtio_vsock_guest_size(), in: dir,
            virtioConsole: virtioConsole, vsock: vsock)
    }

    @Test(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
    func theVsockGuestTalksToAHostProcess() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("vm.vsock")
        let listener = try UnixSocket.listen(at: "\(path)_5000")
        let report = VirtioConsoleMachineTests.Report()
        let vm = try VirtualMachine(
            configuration: try configuration(
                in: dir, vsock: VsockConfiguration(guestCID: 7, hostSocketPath: path),
                virtioConsole: .file(path: dir.file("hvc0.log"))),
            devices: [.portIO(report, base: 0x5F0, size: 4)])
        let vsock = try #require(vm.vsockPlacement)
        let entropy = try #require(vm.entropyPlacement)
        #expect(vsock.gsi != entropy.gsi && vsock.mmioBase > entropy.mmioBase, "placed after the entropy device")
        #expect(try #require(vm.virtioConsolePlacement).mmioBase < entropy.mmioBase)
        try vm.start()
        defer { if vm.waitUntilStopped(timeout: 0) == nil { _ = vm.stop() } }
        // Hang guards only.
        final class Accepted: @unchecked Sendable { var socket: OwnedDescriptor? }
        let accepted = Accepted()
        try waitUntil("the guest's connection", seconds: 60) {
            if let socket = (try? UnixSocket.accept(listener.raw)) ?? nil { accepted.socket = consume socket }
            return accepted.socket != nil || report.value.withLock { $0 } != nil
        }
        guard let raw = accepted.socket?.raw else {
            Issue.record("no connection; the guest reported \(String(describing: report.value.withLock { $0 }))")
            return
        }
        let host = (raw: raw, owner: accepted)
        #expect(try read(17, from: host.raw) == "hello over vsock\n")
        let reply = "the host answers\n"
        _ = try Array(reply.utf8).withUnsafeBytes { try SystemCall.writeSome(host.raw, $0, "write") }
        #expect(try read(6 + reply.utf8.count, from: host.raw) == "echo: " + reply)
        let outcome = vm.waitUntilStopped(timeout: 60)
        #expect(outcome == .poweredOff)
        #expect(report.value.withLock { $0 } == 0)
        #expect(vm.vsockDevice?.statistics.connectionsFromGuest == 1)
        #expect(vm.vsockDevice?.guestCID == 7)
        // With a virtio console (R8) the guest narrated each step on it.
        #expect(
            try String(contentsOfFile: dir.file("hvc0.log"), encoding: .utf8)
                == "vsock guest: connecting to host port 5000\nvsock guest: connected, sending a message\n"
                + "vsock guest: the host replied: \(reply)vsock guest: stream closed\n")
    }

    func read(_ count: Int, from socket: FileDescriptor) throws -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        try waitUntil("\(count) bytes from the guest", seconds: 60) {
            let n = (try? buffer.withUnsafeMutableBytes { try SystemCall.readSome(socket, into: $0, "read") }) ?? nil
            if let n, n > 0 { bytes += buffer[..<n] }
            return bytes.count >= count || n == 0
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func aReservedContextIDOrAnUnusableSocketPathIsRefused() throws {
        let dir = try TemporaryDirectory()
        let long = "/tmp/" + String(repeating: "v", count: 100)
        let problems = try configuration(
            in: dir, vsock: VsockConfiguration(guestCID: 2, hostSocketPath: long)
        ).problems()
        #expect(problems.contains(.vsock("guestCID 2: from 3 to 4294967294 (0-2 are reserved)")))
        #expect(problems.contains(.vsock("hostSocketPath \"\(long)\": 1 to 96 bytes (a Unix socket path)")))
        let missing = dir.file("no-such-directory/v.sock")
        let more = try configuration(
            in: dir, vsock: VsockConfiguration(guestCID: 3, hostSocketPath: missing)
        ).problems()
        #expect(
            more == [.vsock("hostSocketPath \(missing): its directory \(dir.file("no-such-directory")) does not exist")]
        )
        // And a configuration with vsock reads back as itself.
        let configuration = try configuration(in: dir, vsock: VsockConfiguration(guestCID: 9, hostSocketPath: missing))
        let decoded = try JSONDecoder().decode(
            VirtualMachineConfiguration.self, from: JSONEncoder().encode(configuration))
        #expect(decoded == configuration)
    }
}
