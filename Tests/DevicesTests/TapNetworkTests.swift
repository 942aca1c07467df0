import DeviceModel
import Devices
import Foundation
import HostSupport
import Synchronization
import SystemPackage
import TestSupport
import Testing

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

    @Test func theGuestsARPRequestIsAnsweredByTheHostsStack() throws {
        let namespace = "svmm-net-\(getpid())"
        try ip(["netns", "add", namespace])
        defer { _ = try? runProcess("/usr/sbin/ip", ["netns", "del", namespace]) }
        let tap = try openTap("svmmtap0", in: namespace)
        try ip(["-n", namespace, "addr", "add", "10.99.0.1/24", "dev", tap.name])
        try ip(["-n", namespace, "link", "set", tap.name, "up"])

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
}
