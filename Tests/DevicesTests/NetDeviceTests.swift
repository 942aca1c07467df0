import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// virtio-net moves whole frames, in order, between the driver and its backend: what the guest
/// sends arrives on the backend, what the backend delivers reaches the guest with its header;
/// frames the backend delivers while no buffer is posted wait there (none lost or reordered), a
/// frame larger than the buffer posted is dropped and counted (never cut), a full backend holds
/// the guest's frames in the ring, malformed chains are completed unsent and counted, and a
/// rate limiter holds a queue back until its timer says it may go on.
@Suite(.usesKVM) struct NetDeviceTests {
    let receive = VirtioNet.Queue.receive
    let transmit = VirtioNet.Queue.transmit
    static let header = [UInt8](repeating: 0, count: VirtioNet.headerSize)

    /// A frame of `length` bytes whose content says which it is.
    static func frame(_ index: Int, length: Int = 60) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
    }

    /// A device on `backend` and a driver that negotiated every feature, or all but
    /// `MRG_RXBUF` (one receive buffer per frame).
    func device(
        _ backend: any NetworkBackend, mergeable: Bool = false, receiveLimiter: RateLimiter? = nil,
        transmitLimiter: RateLimiter? = nil
    ) throws -> (VirtioNetDevice, VirtioDriver) {
        let device = try VirtioNetDevice(
            mac: .local(0x0a0b0c), backend: backend, queueSize: 16, receiveLimiter: receiveLimiter,
            transmitLimiter: transmitLimiter)
        let driver = try VirtioDriver(backend: device)
        let all = driver.deviceFeatures
        try driver.start(features: mergeable ? all : all & ~VirtioNet.Feature.mergeableReceiveBuffers)
        return (device, driver)
    }

    /// Posts `count` receive buffers of `length` bytes.
    func post(_ driver: VirtioDriver, _ count: Int, length: Int = VirtioNet.headerSize + 1514) throws {
        for _ in 0..<count { try driver.post(receive, [(try driver.allocate(length), UInt32(length), true)]) }
    }

    /// Receives `count` frames (their headers checked), reposting nothing.
    func frames(_ count: Int, _ driver: VirtioDriver) throws -> [[UInt8]] {
        var got: [[UInt8]] = []
        try driver.wait {
            for completion in try driver.completions(receive) {
                #expect(completion.bytes.count >= VirtioNet.headerSize)
                let header = Array(completion.bytes.prefix(VirtioNet.headerSize))
                #expect(header == Array(Self.header[..<10]) + [1, 0], "a zero header with num_buffers 1")
                got.append(Array(completion.bytes.dropFirst(VirtioNet.headerSize)))
            }
            return got.count >= count
        }
        return got
    }

    /// Takes `count` frames from the other end of a memory link.
    func take(_ count: Int, from link: MemoryNetworkLink) throws -> [[UInt8]] {
        var got: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        try waitUntil("\(count) frames on the link", seconds: 10) {
            while case .frame(let n) = buffer.withUnsafeMutableBytes({ link.receive(into: $0) }) {
                got.append(Array(buffer[..<n]))
            }
            return got.count >= count
        }
        return got
    }

    func send(_ frame: [UInt8], from link: MemoryNetworkLink) -> NetworkSendResult {
        frame.withUnsafeBytes { link.send($0) }
    }

    @Test func theConfigurationSpaceHoldsTheMACAndTheLinkStatus() throws {
        let (link, _) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link)
        #expect((0..<6).map { driver.readConfig(UInt8.self, at: $0) } == [0x52, 0x54, 0x00, 0x0a, 0x0b, 0x0c])
        #expect(device.mac.description == "52:54:00:0a:0b:0c")
        #expect(driver.readConfig(UInt16.self, at: 6) == VirtioNet.linkUp)
        let generation = driver.readRegister(VirtioMMIORegister.configGeneration)
        device.setLinkUp(false)
        #expect(driver.readConfig(UInt16.self, at: 6) == 0)
        #expect(driver.readRegister(VirtioMMIORegister.configGeneration) != generation)
        #expect(driver.readRegister(VirtioMMIORegister.interruptStatus) & VirtioInterrupt.configurationChange != 0)
        #expect(driver.deviceFeatures & VirtioNet.Feature.mergeableReceiveBuffers != 0)
    }

    @Test func framesTheGuestSendsArriveInOrder() throws {
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link)
        let sent = (0..<10).map { Self.frame($0, length: 60 + $0 * 100) }
        for (i, frame) in sent.enumerated() {
            if i % 2 == 0 {
                try driver.send(Self.header + frame, on: transmit)
            } else {
                // Header and frame in two descriptors, as Linux posts them.
                let h = try driver.allocate(VirtioNet.headerSize)
                let f = try driver.allocate(frame.count)
                try driver.memory.write(contentsOf: frame, at: GuestAddress(f))
                try driver.post(transmit, [(h, UInt32(VirtioNet.headerSize), false), (f, UInt32(frame.count), false)])
            }
        }
        #expect(try take(10, from: peer) == sent)
        #expect(device.statistics.framesSent == 10)
        #expect(device.statistics.bytesSent == UInt64(sent.reduce(0) { $0 + $1.count }))
    }

    @Test func framesTheBackendDeliversReachTheGuest() throws {
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link)
        try post(driver, 8)
        let sent = (0..<8).map { Self.frame($0, length: 1514 - $0) }
        for frame in sent { #expect(send(frame, from: peer) == .sent) }
        #expect(try frames(8, driver) == sent)
        #expect(device.statistics.framesReceived == 8)
    }

    @Test func framesArrivingWithNoBufferPostedWaitAndComeInOrder() throws {
        let (link, peer) = try MemoryNetworkLink.pair(capacity: 64)
        let (_, driver) = try device(link)
        let sent = (0..<20).map { Self.frame($0) }
        for frame in sent { #expect(send(frame, from: peer) == .sent) }
        // No buffer: nothing is taken from the backend (nothing read and lost).
        try driver.wait { link.hasFrame }
        usleep(20_000)  // time for a wrong device to read; the check below is on state, not time
        #expect(peer.framesInFlight == 20, "the device took no frame without a buffer for it")
        try post(driver, 5)
        var got = try frames(5, driver)
        try post(driver, 15)
        got += try frames(15, driver)
        #expect(got == sent)
    }

    @Test func aFrameLargerThanTheBufferIsDroppedWholeAndCounted() throws {
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link)
        try post(driver, 2, length: VirtioNet.headerSize + 100)
        #expect(send(Self.frame(0, length: 101), from: peer) == .sent)  // one byte too many
        #expect(send(Self.frame(1, length: 100), from: peer) == .sent)
        #expect(try frames(1, driver) == [Self.frame(1, length: 100)])
        #expect(device.statistics.receiveOversized == 1)
    }

    /// Receives `count` frames with `MRG_RXBUF`: each spread over the buffers its header's
    /// `num_buffers` says, reassembled; returns the frames and how many buffers each took.
    func mergedFrames(_ count: Int, _ driver: VirtioDriver) throws -> [(frame: [UInt8], buffers: Int)] {
        var got: [(frame: [UInt8], buffers: Int)] = []
        var pending: [[UInt8]] = []
        try driver.wait {
            pending += try driver.completions(receive).map(\.bytes)
            while let first = pending.first {
                let header = Array(first.prefix(VirtioNet.headerSize))
                #expect(Array(header[..<10]) == [UInt8](repeating: 0, count: 10))
                let buffers = Int(header[10]) | Int(header[11]) << 8
                guard buffers >= 1, pending.count >= buffers else { break }
                let frame = pending[..<buffers].enumerated().flatMap { i, bytes in
                    i == 0 ? Array(bytes.dropFirst(VirtioNet.headerSize)) : bytes
                }
                got.append((frame, buffers))
                pending.removeFirst(buffers)
            }
            return got.count >= count
        }
        #expect(pending.isEmpty, "no buffer completed beyond the frames")
        return got
    }

    @Test func withMergeableBuffersAFrameSpreadsOverAsManyAsItNeeds() throws {
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link, mergeable: true)
        try post(driver, 8, length: VirtioNet.headerSize + 100)
        let sent = [Self.frame(0, length: 250), Self.frame(1, length: 60), Self.frame(2, length: 288)]
        for frame in sent { #expect(send(frame, from: peer) == .sent) }
        let got = try mergedFrames(3, driver)
        #expect(got.map(\.frame) == sent)
        // 250 bytes after a 12-byte header in 112-byte buffers: 100 + 112 + 38 → 3 buffers.
        #expect(got.map(\.buffers) == [3, 1, 3])
        #expect(device.statistics.receiveOversized == 0)
    }

    @Test func withMergeableBuffersAFrameWaitsForEnoughBuffersThenComesWhole() throws {
        let (link, peer) = try MemoryNetworkLink.pair()
        // A limiter that never refuses: a frame that waited is charged once, not per attempt.
        let limiter = try RateLimiter(RateLimits(bandwidth: .init(size: 1 << 30, refillTimeNanoseconds: 1)))
        let (device, driver) = try device(link, mergeable: true, receiveLimiter: limiter)
        try post(driver, 1, length: VirtioNet.headerSize + 100)
        let sent = [Self.frame(0, length: 250), Self.frame(1, length: 40)]
        for frame in sent { #expect(send(frame, from: peer) == .sent) }
        // One buffer cannot hold the first frame: nothing is completed (the group is undone).
        try driver.wait { device.statistics.receiveWaitedForBuffers >= 1 }
        #expect(try driver.completions(receive).isEmpty)
        try post(driver, 3, length: VirtioNet.headerSize + 100)
        #expect(try mergedFrames(2, driver).map(\.frame) == sent)
        #expect(limiter.statistics.bytes == 290 && limiter.statistics.operations == 2)
    }

    @Test func aFullBackendHoldsTheGuestsFramesInTheRing() throws {
        let (link, peer) = try MemoryNetworkLink.pair(capacity: 2)
        let (device, driver) = try device(link)
        let sent = (0..<6).map { Self.frame($0) }
        for frame in sent { try driver.send(Self.header + frame, on: transmit) }
        try driver.wait { peer.hasFrame && link.framesInFlight == 2 }
        try driver.wait {
            _ = try driver.completions(transmit)
            return driver.inFlight(transmit) == 4
        }
        // The peer takes frames: the device sends the rest, in order, as room comes.
        #expect(try take(6, from: peer) == sent)
        try driver.wait {
            _ = try driver.completions(transmit)
            return driver.inFlight(transmit) == 0
        }
        #expect(device.statistics.framesSent == 6)
    }

    @Test func malformedTransmitChainsAreCompletedUnsent() throws {
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link)
        try driver.send([1, 2, 3], on: transmit)  // shorter than the header
        try driver.send(Self.header + [UInt8](repeating: 7, count: VirtioNet.maximumFrameSize + 1), on: transmit)
        try driver.send(Self.header + Self.frame(9), on: transmit)
        #expect(try take(1, from: peer) == [Self.frame(9)])
        try driver.wait {
            _ = try driver.completions(transmit)
            return driver.inFlight(transmit) == 0
        }
        #expect(device.statistics.transmitMalformed == 2)
    }

    @Test func aTransmitLimiterHoldsFramesBackUntilItsTimerFires() throws {
        // Two frames per 100 ms: five frames take two refills; none is lost or reordered.
        let limiter = try RateLimiter(RateLimits(operations: .init(size: 2, refillTimeNanoseconds: 100_000_000)))
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link, transmitLimiter: limiter)
        let sent = (0..<5).map { Self.frame($0) }
        for frame in sent { try driver.send(Self.header + frame, on: transmit) }
        #expect(try take(5, from: peer) == sent)
        #expect(limiter.statistics.throttled >= 1)
        #expect(limiter.statistics.operations == 5)
        #expect(device.statistics.framesSent == 5)
    }

    @Test func aReceiveLimiterHoldsAFrameAndDeliversItLater() throws {
        let limiter = try RateLimiter(RateLimits(bandwidth: .init(size: 100, refillTimeNanoseconds: 100_000_000)))
        let (link, peer) = try MemoryNetworkLink.pair()
        let (device, driver) = try device(link, receiveLimiter: limiter)
        try post(driver, 4)
        let sent = (0..<4).map { Self.frame($0, length: 80) }  // 80 bytes each: one per refill
        for frame in sent { #expect(send(frame, from: peer) == .sent) }
        #expect(try frames(4, driver) == sent)
        #expect(device.statistics.receiveThrottled >= 1)
    }

    @Test func aDatagramSocketCarriesFramesBothWays() throws {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, &fds) == 0)
        defer { close(fds[1]) }
        let backend = try DatagramNetworkBackend(FileDescriptor(rawValue: fds[0]))
        close(fds[0])
        let (device, driver) = try device(backend)
        try post(driver, 2, length: VirtioNet.headerSize + 200)
        let toGuest = Self.frame(1, length: 150)
        _ = toGuest.withUnsafeBytes { Glibc.send(fds[1], $0.baseAddress, $0.count, 0) }
        _ = [UInt8](repeating: 1, count: 500).withUnsafeBytes { Glibc.send(fds[1], $0.baseAddress, $0.count, 0) }
        let last = Self.frame(2, length: 60)
        _ = last.withUnsafeBytes { Glibc.send(fds[1], $0.baseAddress, $0.count, 0) }
        #expect(try frames(2, driver) == [toGuest, last])
        #expect(device.statistics.receiveOversized == 1, "the 500-byte datagram did not fit the 200-byte buffer")
        let fromGuest = Self.frame(3, length: 90)
        try driver.send(Self.header + fromGuest, on: transmit)
        var buffer = [UInt8](repeating: 0, count: 1000)
        var n = -1
        try waitUntil("the guest's frame on the socket", seconds: 10) {
            n = buffer.withUnsafeMutableBytes { recv(fds[1], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            return n > 0
        }
        #expect(Array(buffer[..<max(0, n)]) == fromGuest)
    }
}
