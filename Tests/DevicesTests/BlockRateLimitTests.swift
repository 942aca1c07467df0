import BlockStorage
import DeviceModel
import Devices
import Foundation
import HostSupport
import TestSupport
import Testing

/// A virtio-blk queue with a rate limiter serves every request, in order, but no faster than
/// the limiter allows: the requests it refuses wait in the ring until its timer fires, and on a
/// real disk a 10 MiB/s limit moves 10 MiB/s.
@Suite(.usesKVM) struct BlockRateLimitTests {
    let read = VirtioBlock.RequestType.read.rawValue

    @Test func throttledRequestsWaitInTheRingAndAllComplete() throws {
        let dir = try TemporaryDirectory()
        // Two requests per 50 ms: six requests need two refills.
        let limiter = try RateLimiter(RateLimits(operations: .init(size: 2, refillTimeNanoseconds: 50_000_000)))
        let driver = try TestDriver(disk: try makeDisk(.raw, in: dir), rateLimiter: limiter)
        try driver.start()
        for sector in UInt64(0)..<6 {
            let (completion, data) = try driver.request(
                type: read, sector: sector, dataLength: 512, dataWritable: true)
            #expect(completion.status == 0)
            #expect(data == pattern(offset: sector * 512, count: 512))
        }
        #expect(limiter.statistics.operations == 6)
        #expect(limiter.statistics.throttled >= 1)
        #expect(driver.block.statistics.total == 6)
    }

    /// Sequential 64 KiB reads under a 10 MiB/s limit (a bucket of 1 MiB refilled every
    /// 100 ms), timed over 3 s once the first bucket is spent. The bucket lets through at most
    /// what refills — 30 MiB — plus the request it may owe (one 64 KiB request over a full
    /// bucket): the upper bound is exact. Below it, each wait for the timer costs its wake-up
    /// latency (tens of µs here, a few ms on a loaded host) once per 100 ms refill: 5 % leaves
    /// room for a 5 ms wake-up, and the disk (page-cache reads of GiB/s) is never what limits.
    @Test func aTenMiBPerSecondLimitGivesTenMiBPerSecond() throws {
        let dir = try TemporaryDirectory()
        let rate: UInt64 = 10 << 20
        let limiter = try RateLimiter(RateLimits(bandwidth: .rate(rate)))
        let size: UInt64 = 4 << 20
        let driver = try TestDriver(disk: try makeDisk(.raw, in: dir, size: size), rateLimiter: limiter)
        try driver.start()
        let request: UInt64 = 64 << 10
        var offset: UInt64 = 0
        func readNext() throws {
            let (completion, _) = try driver.request(
                type: read, sector: offset / 512, dataLength: UInt32(request), dataWritable: true)
            try #require(completion.status == 0)
            offset = (offset + request) % size
        }
        // Spend the first (full) bucket.
        for _ in 0..<(rate / 10 / request) { try readNext() }
        let start = monotonicNanoseconds()
        let window: UInt64 = 3_000_000_000
        var bytes: UInt64 = 0
        while monotonicNanoseconds() - start < window {
            try readNext()
            bytes += request
        }
        let elapsed = monotonicNanoseconds() - start
        let measured = Double(bytes) / (Double(elapsed) / 1e9)
        #expect(bytes <= rate * elapsed / 1_000_000_000 + 2 * request, "never above the limit")
        #expect(abs(measured - Double(rate)) <= 0.05 * Double(rate), "measured \(measured / 1_048_576) MiB/s")
    }
}
