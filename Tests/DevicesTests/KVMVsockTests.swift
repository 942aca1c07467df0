import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import Synchronization
import SystemPackage
import TestSupport
import Testing
import VCPU
import VirtioGuests

/// Real KVM: a guest driver (assembly, `Examples/VirtioGuests/vsock_guest.S`) sets up virtio-vsock
/// over MMIO, connects to a host port, sends a message, reads the host's reply, sends it back and
/// closes — and a host process listening on the device's Unix socket sees exactly that: the
/// connection, the message, the echo, and the end of the stream.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct KVMVsockTests {
    @Test func theGuestOpensAStreamToAHostProcessAndClosesIt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("v.sock")
        let listener = HostEnd(try UnixSocket.listen(at: "\(path)_5000"))
        let device = try VirtioVsockDevice(guestCID: 42, hostSocketPath: path)
        let fixture = try KVMVirtioFixture(backend: device, interrupt: try EventFD(), loopName: "kvm-vsock-test")
        let report = Mutex<UInt32?>(nil)
        // The flat-binary ABI's register for the vsock device: R10.
        let runner = try fixture.startGuest(
            UnsafeRawBufferPointer(start: virtio_vsock_guest_bytes(), count: virtio_vsock_guest_size()),
            at: UInt64(VIRTIO_CONSOLE_GUEST_LOAD_ADDRESS), baseIn: \.r10
        ) { value in report.withLock { $0 = value } }
        defer {
            _ = runner.stop()
            withExtendedLifetime(fixture) {}
        }
        // Hang guards only (the guest is emulated at ~1 M instructions/s here).
        let host: HostEnd
        do {
            var accepted: HostEnd?
            try waitUntil("the guest's connection", seconds: 60) {
                if let socket = (try? UnixSocket.accept(listener.raw)) ?? nil { accepted = HostEnd(socket) }
                return accepted != nil || report.withLock { $0 } != nil
            }
            host = try #require(accepted, "the guest reported \(report.withLock { $0 }.map(String.init) ?? "nothing")")
        }
        let message = try VsockHost.read(17, from: host.raw)
        #expect(String(decoding: message.bytes, as: UTF8.self) == "hello over vsock\n")
        let reply = "reply from the host, longer than a few words\n"
        try VsockHost.write(Array(reply.utf8), to: host.raw)
        let echo = try VsockHost.read(1 << 20, from: host.raw)
        #expect(echo.ended, "the guest closed the stream")
        #expect(String(decoding: echo.bytes, as: UTF8.self) == "echo: " + reply)
        try waitUntil("the guest's report", seconds: 60) { report.withLock { $0 } != nil }
        #expect(
            report.withLock { $0 } == 0, "the guest failed at step \(report.withLock { $0 }.map(String.init) ?? "none")"
        )
        let statistics = device.statistics
        #expect(statistics.connectionsFromGuest == 1 && statistics.activeConnections == 0)
        #expect(statistics.malformedPackets == 0 && statistics.connectionsReset == 0)
    }
}
