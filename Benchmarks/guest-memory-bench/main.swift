// guest-memory-bench: the cost of translating a guest address to a host pointer with 1, 64 and
// 1024 regions (random addresses), and bulk copies guest↔host through GuestMemory against a
// plain memcpy of the same size, interleaved in one process.
//
//     swift run -c release guest-memory-bench [--rounds R] [--json]
import ArgumentParser
import BenchmarkSupport
import GuestMemory

#if canImport(Glibc)
    import Glibc
#endif

@main
struct GuestMemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest-memory-bench", abstract: "GuestMemory translation and bulk copy vs memcpy.")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Translations per measurement.")
    var lookups = 4_000_000

    @Option(help: "Bytes copied per measurement (split into copies of each size).")
    var bytesPerMeasurement = 256 << 20

    func run() throws {
        let rounds = options.rounds ?? 5
        try translation(rounds: rounds).print(options)
        try copies(rounds: rounds).print(options)
    }

    // MARK: Translation

    func translation(rounds: Int) throws -> BenchmarkReport {
        var report = BenchmarkReport(
            title: "Guest address → host pointer, \(lookups) random addresses × \(rounds) rounds (ns/op)",
            columns: ["regions", "operation", "min", "median", "mean", "max"])
        var rng = SystemRandomNumberGenerator()
        for regionCount in [1, 64, 1024] {
            // 64 KiB regions separated by 64 KiB holes; MAP_NORESERVE, never touched.
            let regionSize: UInt64 = 64 << 10
            let regions = try (0..<regionCount).map { i in
                try MmapRegion(
                    guestBase: GuestAddress(UInt64(i) * 2 * regionSize), size: regionSize,
                    options: .init(noReserve: true))
            }
            let map = try GuestMemoryMap(regions: regions)
            let addresses = (0..<4096).map { _ in
                GuestAddress(
                    UInt64.random(in: 0..<UInt64(regionCount), using: &rng) * 2 * regionSize
                        + UInt64.random(in: 0..<regionSize - 8, using: &rng) & ~7)
            }
            let current = AtomicGuestMemory(map)
            var translate: [Double] = []
            var readU64: [Double] = []
            var atomicMapRead: [Double] = []
            for _ in 0..<rounds {
                translate.append(
                    measure(lookups) { n in
                        var sum: UInt = 0
                        for i in 0..<n {
                            sum &+= UInt(bitPattern: map.hostAddress(of: addresses[i & 4095]))
                        }
                        blackHole(sum)
                    })
                readU64.append(
                    measure(lookups / 4) { n in
                        var sum: UInt64 = 0
                        for i in 0..<n { sum &+= (try? map.read(UInt64.self, at: addresses[i & 4095])) ?? 0 }
                        blackHole(UInt(truncatingIfNeeded: sum))
                    })
                atomicMapRead.append(
                    measure(lookups / 4) { n in
                        var sum: UInt64 = 0
                        for i in 0..<n { sum &+= (try? current.read(UInt64.self, at: addresses[i & 4095])) ?? 0 }
                        blackHole(UInt(truncatingIfNeeded: sum))
                    })
            }
            report.add(row([.text("\(regionCount)"), .text("hostAddress(of:)")], Summary(translate), decimals: 2))
            report.add(
                row([.text("\(regionCount)"), .text("map.read(UInt64.self, at:)")], Summary(readU64), decimals: 2))
            report.add(
                row(
                    [.text("\(regionCount)"), .text("AtomicGuestMemory.read(UInt64.self, at:)")],
                    Summary(atomicMapRead), decimals: 2))
        }
        report.note("target: <= 20 ns per translation at 1024 regions")
        report.note("AtomicGuestMemory takes the current map (a mutex) on every access; hold `memory.map` for batches")
        return report
    }

    // MARK: Bulk copy

    func copies(rounds: Int) throws -> BenchmarkReport {
        var report = BenchmarkReport(
            title: "Bulk copy, \(bytesPerMeasurement >> 20) MiB per measurement × \(rounds) rounds (GiB/s, median)",
            columns: [
                "size", "direction", "memcpy", "GuestMemory", "ratio (best)", "ratio (median)", "per-round ratios",
            ])
        let maxSize = 16 << 20
        // Each copy starts at a region's first byte, like the memcpy it is compared with.
        let plain = try MmapRegion(guestBase: GuestAddress(0x1_0000_0000), size: UInt64(maxSize))
        let tracked = try MmapRegion(
            guestBase: GuestAddress(0x2_0000_0000), size: UInt64(maxSize), options: .init(trackDirtyPages: true))
        let map = try GuestMemoryMap(regions: [plain, tracked])
        let host = UnsafeMutableRawBufferPointer.allocate(byteCount: maxSize, alignment: 4096)
        defer { host.deallocate() }
        guard let hostBase = host.baseAddress else { throw ExitCode.failure }
        memset(hostBase, 1, maxSize)
        memset(plain.hostBase, 2, maxSize)
        memset(tracked.hostBase, 3, maxSize)

        for size in [4 << 10, 64 << 10, 1 << 20, 16 << 20] {
            let copies = max(bytesPerMeasurement / size, 1)
            let slice = UnsafeMutableRawBufferPointer(start: hostBase, count: size)
            let cases: [(String, () -> Void, () -> Void)] = [
                (
                    "guest→host",
                    { for _ in 0..<copies { memcpy(hostBase, plain.hostBase, size) } },
                    { for _ in 0..<copies { try? map.read(into: slice, at: plain.guestBase) } }
                ),
                (
                    "host→guest",
                    { for _ in 0..<copies { memcpy(plain.hostBase, hostBase, size) } },
                    { for _ in 0..<copies { try? map.write(UnsafeRawBufferPointer(slice), at: plain.guestBase) } }
                ),
                // Reference: translation plus a raw memcpy, without the API's checks.
                (
                    "host→guest, hostAddress(of:) + memcpy",
                    { for _ in 0..<copies { memcpy(plain.hostBase, hostBase, size) } },
                    {
                        for _ in 0..<copies {
                            if let p = map.hostAddress(of: plain.guestBase) { memcpy(p, hostBase, size) }
                        }
                    }
                ),
                (
                    "host→guest, dirty tracking",
                    { for _ in 0..<copies { memcpy(tracked.hostBase, hostBase, size) } },
                    { for _ in 0..<copies { try? map.write(UnsafeRawBufferPointer(slice), at: tracked.guestBase) } }
                ),
            ]
            for (direction, baseline, subject) in cases {
                baseline(); subject()  // warm up
                var base: [Double] = []
                var mine: [Double] = []
                for round in 0..<rounds {
                    if round % 2 == 0 {
                        base.append(Double(timeNanoseconds(baseline)))
                        mine.append(Double(timeNanoseconds(subject)))
                    } else {
                        mine.append(Double(timeNanoseconds(subject)))
                        base.append(Double(timeNanoseconds(baseline)))
                    }
                }
                let bytes = Double(copies * size)
                let gibps = { (ns: Double) in bytes / ns * 1e9 / Double(1 << 30) }
                let b = Summary(base), m = Summary(mine)
                report.add([
                    .text(sizeName(size)), .text(direction),
                    .number(gibps(b.median), decimals: 2), .number(gibps(m.median), decimals: 2),
                    .number(b.min / m.min, decimals: 3), .number(b.median / m.median, decimals: 3),
                    .text(zip(base, mine).map { formatFixed2($0 / $1) }.joined(separator: " ")),
                ])
            }
        }
        report.note("ratio = memcpy time / GuestMemory time (throughput ratio); target >= 0.9")
        report.note("best = fastest round of each (least disturbed by other load); median = median rounds")
        return report
    }

    // MARK: Helpers

    /// Runs `body(n)` and returns nanoseconds per iteration.
    func measure(_ n: Int, _ body: (Int) -> Void) -> Double {
        Double(timeNanoseconds { body(n) }) / Double(n)
    }

    func row(_ head: [ReportValue], _ s: Summary, decimals: Int) -> [ReportValue] {
        head + [
            .number(s.min, decimals: decimals), .number(s.median, decimals: decimals),
            .number(s.mean, decimals: decimals), .number(s.max, decimals: decimals),
        ]
    }

    func sizeName(_ size: Int) -> String {
        size >= 1 << 20 ? "\(size >> 20) MiB" : "\(size >> 10) KiB"
    }

    func formatFixed2(_ x: Double) -> String {
        let hundredths = Int((x * 100).rounded())
        return "\(hundredths / 100)." + (hundredths % 100 < 10 ? "0" : "") + "\(hundredths % 100)"
    }
}

/// Keeps `value` alive so the optimiser cannot drop the loop that computed it.
@inline(never)
func blackHole(_ value: UInt) {
    if value == 0x1234_5678_9abc { print("") }
}
