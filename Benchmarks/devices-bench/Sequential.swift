import ArgumentParser
import BenchmarkSupport
import Devices
import Foundation
import GuestMemory
import HostSupport
import VHD

// Sequential throughput: write then read the whole of a new dynamic VHD through virtio-blk
// (128 KiB requests, 32 in flight, served on an adaptively polling event loop — the library's
// default) against `dd` with the same block size on a raw file. Both go through the page cache.

extension DevicesBench {
    func benchmarkSequential(mib: Int, into report: inout BenchmarkReport) throws {
        let requestBytes = 128 << 10, depth = 32
        let size = UInt64(mib) << 20
        let batches = Int(size) / (requestBytes * depth)
        guard batches > 0 else { throw ValidationError("--sequential-mib must be at least 4") }
        let directory = "/tmp/devices-bench-sequential-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vhdPath = directory + "/disk.vhd", rawPath = directory + "/disk.raw"

        let image = try VHDImage.create(path: vhdPath, options: VHDCreateOptions(type: .dynamic, size: size))
        let memory = try GuestMemoryMap(regions: [
            MmapRegion(
                guestBase: GuestAddress(0), size: QueueDriver.memorySize(depth: depth, requestBytes: requestBytes))
        ])
        let irq = try EventFD(nonBlocking: true)
        let block = try VirtioBlockDevice(disk: image, queueSize: 256)
        let transport = try VirtioMMIOTransport(backend: block, memory: memory, interrupt: irq)
        let driver = try QueueDriver(
            transport: transport, memory: memory, size: 256, depth: depth, requestBytes: requestBytes)
        // Non-zero data, so every block of the image is allocated and written.
        try memory.write(
            contentsOf: [UInt8](repeating: 0x5a, count: depth * requestBytes), at: GuestAddress(QueueDriver.data))
        let loop = try EventLoop(name: "bench-sequential", polling: .adaptive)
        let registration = try loop.serve(transport)
        try loop.start()
        defer {
            registration.cancel()
            loop.stop()
        }
        func pass(write: Bool) throws -> Double {
            Double(
                try timeNanoseconds {
                    for batch in 0..<batches {
                        let sectors = (0..<depth).map { slot in
                            (slot, UInt64((batch * depth + slot) * requestBytes / 512))
                        }
                        try driver.completeBatch(write: write, sectors: sectors, interrupt: irq)
                    }
                })
        }
        let virtioWrite = try pass(write: true)
        let virtioRead = try pass(write: false)
        guard block.statistics.failed == 0 else { throw ValidationError("a sequential request failed") }
        let blocks = String(Int(size) / requestBytes)
        let ddWrite = try dd(["if=/dev/zero", "of=\(rawPath)", "bs=128K", "count=\(blocks)"])
        let ddRead = try dd(["if=\(rawPath)", "of=/dev/null", "bs=128K", "count=\(blocks)"])
        func mibPerSecond(_ ns: Double) -> Double { Double(mib) / (ns / 1e9) }
        for (name, ours, theirs) in [("write", virtioWrite, ddWrite), ("read", virtioRead, ddRead)] {
            report.add(
                row(
                    "sequential \(name) \(mib) MiB, dd bs=128K on a raw file", Summary([theirs / 1e6]), unit: "ms",
                    ratio: nil))
            report.add(
                row(
                    "sequential \(name) \(mib) MiB, virtio-blk on a dynamic VHD", Summary([ours / 1e6]), unit: "ms",
                    ratio: ours / theirs))
            report.note(
                "sequential \(name): dd \(Int(mibPerSecond(theirs))) MiB/s, virtio-blk on a dynamic VHD \(Int(mibPerSecond(ours))) MiB/s (128 KiB requests, 32 in flight, adaptive polling)"
            )
        }
    }

    /// Runs `dd` with `arguments`; its wall time in nanoseconds.
    func dd(_ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/dd")
        process.arguments = arguments + ["status=none"]
        let start = monotonicNanoseconds()
        try process.run()
        process.waitUntilExit()
        let elapsed = monotonicNanoseconds() - start
        guard process.terminationStatus == 0 else { throw ValidationError("dd \(arguments) failed") }
        return Double(elapsed)
    }
}
