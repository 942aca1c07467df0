import DeviceModel
import Devices
import Foundation
import HostSupport
import KVM
import Synchronization
import SystemPackage
import TestSupport
import Testing
import VirtioGuests

#if canImport(Glibc)
    import Glibc
#endif

/// With a real TAP interface, in a network namespace the test creates (so that only addresses
/// inside it are touched): a frame the device sends appears on the interface — the guest's ARP
/// request for the host side's address —, and a frame the host's stack sends through it reaches
/// the driver — the kernel's ARP reply.
@Suite(
    .usesKVM,
    .enabled(
        if: getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip"),
        "needs root, /dev/net/tun and iproute2's ip (/usr/sbin/ip)"))
struct TapNetworkTests {
    static let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    static let hostIP: [UInt8] = [10, 99, 0, 1]
    static let guestIP: [UInt8] = [10, 99, 0, 2]

    @discardableResult
    func ip(_ arguments: [String]) throws -> String {
        let (status, output) = try runProcess("/usr/sbin/ip", arguments)
        try #require(status == 0, "ip \(arguments.joined(separator: " ")): \(output)")
        return output
    }

    /// Opens the TAP interface `name` inside the namespace `namespace` (on a thread of its own
    /// that enters the namespace, so the test's threads stay where they are).
    func openTap(_ name: String, in namespace: String) throws -> TapDevice {
        let result = Mutex<Result<TapDevice, any Error>?>(nil)
        let thread = Thread {
            result.withLock {
                $0 = Result {
                    try Namespace.enterNetworkNamespace(at: "/var/run/netns/\(namespace)")
                    return try TapDevice(name: name)
                }
            }
        }
        thread.start()
        try waitUntil("the TAP interface", seconds: 10) { result.withLock { $0 != nil } }
        return try result.withLock { $0! }.get()
    }

    /// An ARP request from the guest for `hostIP`, padded to 60 bytes.
    static var arpRequest: [UInt8] {
        var frame: [UInt8] = [UInt8](repeating: 0xff, count: 6) + guestMAC + [0x08, 0x06]
        frame += [0, 1, 0x08, 0, 6, 4, 0, 1] + guestMAC + guestIP + [UInt8](repeating: 0, count: 6) + hostIP
        return frame + [UInt8](repeating: 0, count: 60 - frame.count)
    }

    /// Runs `body` with a TAP interface up at 10.99.0.1/24 in a new network namespace (named
    /// for `test` and this process), removed afterwards.
    func withTap(_ test: String, _ body: (TapDevice, String) throws -> Void) throws {
        let namespace = "svmm-\(test)-\(getpid())"
        try ip(["netns", "add", namespace])
        defer { _ = try? runProcess("/usr/sbin/ip", ["netns", "del", namespace]) }
        let tap = try openTap("svmm\(test)", in: namespace)
        try ip(["-n", namespace, "addr", "add", "10.99.0.1/24", "dev", tap.name])
        try ip(["-n", namespace, "link", "set", tap.name, "up"])
        try body(tap, namespace)
    }

    @Test func theGuestsARPRequestIsAnsweredByTheHostsStack() throws {
        try withTap("drv") { tap, namespace in try arpThroughTheTestDriver(tap, namespace) }
    }

    func arpThroughTheTestDriver(_ tap: TapDevice, _ namespace: String) throws {
        let device = try VirtioNetDevice(mac: MACAddress(Self.guestMAC), backend: TapNetworkBackend(tap), queueSize: 16)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        let length = VirtioNet.headerSize + 1514
        for _ in 0..<8 {
            try driver.post(VirtioNet.Queue.receive, [(try driver.allocate(length), UInt32(length), true)])
        }
        try driver.send(
            [UInt8](repeating: 0, count: VirtioNet.headerSize) + Self.arpRequest, on: VirtioNet.Queue.transmit)

        // The kernel may also send its own frames (IPv6 neighbour discovery): look for the reply.
        var reply: [UInt8]?
        try driver.wait {
            for completion in try driver.completions(VirtioNet.Queue.receive) {
                let frame = Array(completion.bytes.dropFirst(VirtioNet.headerSize))
                if frame.count >= 42, frame[12] == 0x08, frame[13] == 0x06, frame[21] == 2 { reply = frame }
                try driver.post(VirtioNet.Queue.receive, [(try driver.allocate(length), UInt32(length), true)])
            }
            return reply != nil
        }
        let arp = try #require(reply)
        #expect(Array(arp[0..<6]) == Self.guestMAC, "addressed to the guest")
        #expect(Array(arp[28..<32]) == Self.hostIP, "the host side's address")
        #expect(Array(arp[32..<38]) == Self.guestMAC && Array(arp[38..<42]) == Self.guestIP)
        // The interface counted the guest's frame as received.
        let stats = try ip(["-n", namespace, "-s", "-j", "link", "show", tap.name])
        #expect(stats.contains("\"rx\":{\"bytes\":") || stats.contains("\"rx\""), "\(stats)")
        #expect(device.statistics.framesSent >= 1 && device.statistics.framesReceived >= 1)
    }

    /// Real KVM: the assembly driver (`Examples/VirtioGuests/net_guest.S`) sends the ARP request
    /// and checks the reply it receives; the host's stack learned the guest's address from it.
    @Test(.enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
    func aGuestDriverOnKVMGetsItsARPReply() throws {
        try withTap("kvm") { tap, namespace in
            let device = try VirtioNetDevice(
                mac: MACAddress(Self.guestMAC), backend: TapNetworkBackend(tap), queueSize: 16)
            let fixture = try KVMVirtioFixture(backend: device, interrupt: try EventFD(), loopName: "kvm-net-test")
            let report = Mutex<UInt32?>(nil)
            let runner = try fixture.startGuest(
                UnsafeRawBufferPointer(start: virtio_net_guest_bytes(), count: virtio_net_guest_size()),
                at: UInt64(VIRTIO_CONSOLE_GUEST_LOAD_ADDRESS), baseIn: \.r10
            ) { value in report.withLock { $0 = value } }
            defer {
                _ = runner.stop()
                withExtendedLifetime(fixture) {}
            }
            // Hang guard only (the guest is emulated at ~1 M instructions/s here).
            try waitUntil("the guest's report", seconds: 60) { report.withLock { $0 } != nil }
            #expect(
                report.withLock { $0 } == 0, "the guest failed at step \(String(describing: report.withLock { $0 }))")
            // The host side: the kernel answered, and learned the guest's MAC from the request.
            let neighbours = try ip(["-n", namespace, "neigh", "show", "10.99.0.2"])
            #expect(neighbours.contains("52:54:00:12:34:56"), "\(neighbours)")
            #expect(device.statistics.framesSent == 1)
        }
    }
}
