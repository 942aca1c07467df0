import Devices
import GuestMemory
import Testing

/// virtio-rng fills exactly the writable bytes of a request, up to its per-request bound, with
/// random bytes, and touches nothing else: for requests of every size, split over one to three
/// buffers, and for chains with no writable buffer at all.
@Suite(.usesKVM) struct EntropyDeviceTests {
    /// Posts a request of `sizes` (writable buffers pre-filled with 0xA5, each followed by a guard
    /// byte) and returns (used length, the buffers' bytes, the guard bytes).
    func request(_ driver: VirtioDriver, sizes: [Int]) throws -> (UInt32, [UInt8], [UInt8]) {
        let addresses = try sizes.map { try driver.allocate($0 + 1, fill: 0xA5) }
        try driver.post(0, zip(addresses, sizes).map { ($0, UInt32($1), true) })
        var done: [(head: UInt16, length: UInt32, bytes: [UInt8])] = []
        try driver.wait {
            done += try driver.completions(0)
            return !done.isEmpty
        }
        var bytes: [UInt8] = []
        var guards: [UInt8] = []
        for (address, size) in zip(addresses, sizes) {
            bytes += try driver.memory.readBytes(count: size, at: GuestAddress(address))
            guards.append(try driver.memory.read(UInt8.self, at: GuestAddress(address + UInt64(size))))
        }
        return (done[0].length, bytes, guards)
    }

    @Test func requestsOfEverySizeAreFilledExactly() throws {
        let bound = 4096
        let device = try VirtioEntropyDevice(queueSize: 16, maxBytesPerRequest: bound)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        var rng = SystemRandomNumberGenerator()
        var totalGiven: UInt64 = 0
        let sizes = Array(0...64) + [255, 256, 4095, 4096, 4097, 10_000, 65_536]
        for total in sizes {
            // One to three buffers (a zero-length buffer is a legal descriptor).
            let parts = total == 0 ? 1 : Int.random(in: 1...min(3, total), using: &rng)
            var cuts = (0..<parts - 1).map { _ in Int.random(in: 0...total, using: &rng) }.sorted()
            cuts = [0] + cuts + [total]
            let split = (0..<parts).map { cuts[$0 + 1] - cuts[$0] }
            let (used, bytes, guards) = try request(driver, sizes: split)
            let expected = min(total, bound)
            #expect(used == UInt32(expected), "request of \(split)")
            #expect(guards.allSatisfy { $0 == 0xA5 }, "a guard byte after a buffer was written (\(split))")
            #expect(bytes[expected...].allSatisfy { $0 == 0xA5 }, "bytes past the bound were written (\(split))")
            if expected >= 16 {
                // 16 random bytes all equal to the fill: probability 2^-128.
                #expect(bytes[..<expected].contains { $0 != 0xA5 }, "request of \(split) was not filled")
            }
            totalGiven += UInt64(expected)
        }
        let statistics = device.statistics
        #expect(
            statistics.requests == UInt64(sizes.count) && statistics.bytes == totalGiven && statistics.failures == 0)
    }

    @Test func aChainWithoutWritableBuffersGetsNothing() throws {
        let device = try VirtioEntropyDevice()
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        let address = try driver.allocate(64, fill: 0x5A)
        try driver.post(0, [(address, 64, false)])
        var done: [(head: UInt16, length: UInt32, bytes: [UInt8])] = []
        try driver.wait {
            done += try driver.completions(0)
            return !done.isEmpty
        }
        #expect(done[0].length == 0)
        #expect(
            try driver.memory.readBytes(count: 64, at: GuestAddress(address)) == [UInt8](repeating: 0x5A, count: 64))
    }

    @Test func twoRequestsNeverGetTheSameBytes() throws {
        let device = try VirtioEntropyDevice()
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        let (_, a, _) = try request(driver, sizes: [32])
        let (_, b, _) = try request(driver, sizes: [32])
        #expect(a != b)
    }

    @Test func invalidParametersAreRefused() {
        #expect(throws: VirtqueueError.invalidSize(3)) { try VirtioEntropyDevice(queueSize: 3) }
        #expect(throws: VirtqueueError.invalidSize(0)) { try VirtioEntropyDevice(maxBytesPerRequest: 0) }
    }
}
