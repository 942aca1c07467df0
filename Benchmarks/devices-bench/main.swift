import ArgumentParser
import BenchmarkSupport
import BlockStorage
import CFirstExit
import Devices
import GuestMemory
// devices-bench: the host-side cost of the Devices target.
//
// 1. One 4 KiB virtio-blk read, from the notify (the eventfd signal the kernel makes for an
//    ioeventfd write) to the completion interrupt signalled (the irqfd eventfd readable), through
//    the queue worker thread — and the same request served inline (no thread hop) — against a
//    plain 4 KiB `pread` of the same page-cached file.
// 2. "Create VM" to the first guest exit through the Swift libraries (KVMSystem, VM, MmapRegion,
//    GuestMemoryMap, GuestMemoryBridge, vCPU, X86Setup, run) against C doing the same ioctls,
//    interleaved in one process.
//
//     swift run -c release devices-bench [--requests N] [--vms N] [--rounds R] [--json]
import HostSupport
import KVM
import VCPU
import VHD

#if canImport(Glibc)
    import Glibc
#endif

@main
struct DevicesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices-bench", abstract: "virtio-blk request cost vs pread; create-VM-to-first-exit vs C.")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "virtio-blk requests per round.")
    var requests = 20_000

    @Option(help: "VMs created per round.")
    var vms = 50

    /// Real mode: `mov dx, 0x3f8; out dx, al; hlt`.
    static let guest: [UInt8] = [0xba, 0xf8, 0x03, 0xee, 0xf4]

    func run() throws {
        let rounds = options.rounds ?? 5
        var report = BenchmarkReport(
            title: "devices-bench: \(rounds) rounds (virtio-blk: per-round means; first exit: per VM)",
            columns: ["measurement", "min", "median", "max", "unit", "ratio"])
        try benchmarkBlock(rounds: rounds, into: &report)
        try benchmarkFirstExit(rounds: rounds, into: &report)
        report.print(options)
    }

    func row(_ name: String, _ s: Summary, unit: String, ratio: Double?) -> [ReportValue] {
        [
            .text(name), .number(s.min, decimals: 0), .number(s.median, decimals: 0), .number(s.max, decimals: 0),
            .text(unit),
            ratio.map { .number($0, decimals: 2) } ?? .text("1 (baseline)"),
        ]
    }

    // MARK: virtio-blk

    func benchmarkBlock(rounds: Int, into report: inout BenchmarkReport) throws {
        let path = "/tmp/devices-bench-\(getpid()).raw"
        defer { unlink(path) }
        let diskSize: UInt64 = 16 << 20
        let disk = try RawImage(creating: path, size: diskSize)
        try disk.write([UInt8](repeating: 0xa5, count: Int(diskSize)), at: 0)  // page cache warm
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }

        let memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: GuestAddress(0), size: 1 << 20)])
        let irq = try EventFD(nonBlocking: true)
        let block = try VirtioBlockDevice(disk: disk, queueSize: 256)
        let transport = try VirtioMMIOTransport(backend: block, memory: memory, interrupt: irq)
        let queue = try BenchQueue(transport: transport, memory: memory, size: 256)
        let worker = try VirtioQueueWorker(transport: transport)
        try worker.start()
        defer { worker.stop() }
        let pages = Int(diskSize / 4096)

        var threaded: [Double] = [], inline: [Double] = [], pread4k: [Double] = []
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        for _ in 0..<rounds {
            // Through the worker: notify eventfd → worker thread → irq eventfd.
            threaded.append(
                try perRequest {
                    for i in 0..<requests {
                        try queue.submitRead(sector: UInt64(i % pages) * 8)
                        transport.queueNotify.trigger()
                        while try irq.read() == nil { _ = try irq.wait(timeoutMilliseconds: -1) }
                    }
                })
            // Inline on this thread: the device work alone.
            inline.append(
                try perRequest {
                    for i in 0..<requests {
                        try queue.submitRead(sector: UInt64(i % pages) * 8)
                        transport.processQueue(0)
                        guard try irq.read() != nil else { throw ExitCode.failure }
                    }
                })
            pread4k.append(
                try perRequest {
                    for i in 0..<requests {
                        guard pread(fd, buffer, 4096, off_t((i % pages) * 4096)) == 4096 else { throw ExitCode.failure }
                    }
                })
        }
        guard block.statistics.failed == 0, queue.statusesOK else {
            throw ValidationError("a virtio-blk request failed")
        }
        let p = Summary(pread4k), t = Summary(threaded), n = Summary(inline)
        report.add(row("pread 4 KiB (page cache)", p, unit: "ns/request", ratio: nil))
        report.add(
            row(
                "virtio-blk 4 KiB read, notify → irq (worker thread)", t, unit: "ns/request", ratio: t.median / p.median
            ))
        report.add(row("virtio-blk 4 KiB read, served inline", n, unit: "ns/request", ratio: n.median / p.median))
        report.note(
            "virtio-blk ratios are against pread; the worker path includes two eventfd wake-ups between threads")
    }

    func perRequest(_ body: () throws -> Void) throws -> Double {
        Double(try timeNanoseconds(body)) / Double(requests)
    }

    // MARK: create VM → first exit

    func benchmarkFirstExit(rounds: Int, into report: inout BenchmarkReport) throws {
        let memorySize = 2 << 20
        _ = try swiftFirstExit(memorySize: memorySize)
        _ = try cFirstExit(memorySize: memorySize)
        // Per-VM samples, alternating which side goes first; medians resist the outliers a
        // shared host produces.
        var swift: [Double] = [], c: [Double] = []
        for round in 0..<rounds {
            for _ in 0..<vms {
                if round % 2 == 0 {
                    swift.append(try swiftFirstExit(memorySize: memorySize))
                    c.append(try cFirstExit(memorySize: memorySize))
                } else {
                    c.append(try cFirstExit(memorySize: memorySize))
                    swift.append(try swiftFirstExit(memorySize: memorySize))
                }
            }
        }
        let cs = Summary(c), ss = Summary(swift)
        report.add(row("create VM → first exit, C ioctls", cs, unit: "ns/VM", ratio: nil))
        report.add(row("create VM → first exit, Swift libraries", ss, unit: "ns/VM", ratio: ss.median / cs.median))
        report.note("first exit: min/median/max over all \(rounds * vms) VMs of each side; target Swift ≤ 1.2 × C")
    }

    func cFirstExit(memorySize: Int) throws -> Double {
        let ns = Self.guest.withUnsafeBufferPointer { c_create_vm_to_first_exit(memorySize, $0.baseAddress, $0.count) }
        guard ns > 0 else { throw ValidationError("C path failed: \(ns)") }
        return Double(ns)
    }

    func swiftFirstExit(memorySize: Int) throws -> Double {
        let start = monotonicNanoseconds()
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        try vm.prepareForX86()
        let region = try MmapRegion(guestBase: GuestAddress(0), size: UInt64(memorySize))
        let memory = try GuestMemoryMap(regions: [region])
        try memory.write(contentsOf: Self.guest, at: GuestAddress(0x1000))
        try GuestMemoryBridge(vm: vm).apply(memory)
        let vcpu = try vm.createVCPU(id: 0)
        try X86Setup.configureRealMode(vcpu, ip: 0x1000)
        while true {
            switch try vcpu.run() {
            case .interrupted: continue
            case .io: return Double(monotonicNanoseconds() - start)
            default: throw ValidationError("unexpected first exit")
            }
        }
    }
}

/// The driver side of one queue, as a benchmark needs it: a fixed three-descriptor read
/// (header, 4 KiB, status) resubmitted with a new sector each time.
final class BenchQueue {
    let transport: VirtioMMIOTransport
    let memory: GuestMemoryMap
    let size: UInt16
    private var index: UInt16 = 0
    private(set) var statusesOK = true
    static let descriptors: UInt64 = 0x1000, available: UInt64 = 0x2000, used: UInt64 = 0x4000
    static let header: UInt64 = 0x10000, data: UInt64 = 0x11000, status: UInt64 = 0x12000

    init(transport: VirtioMMIOTransport, memory: GuestMemoryMap, size: UInt16) throws {
        self.transport = transport
        self.memory = memory
        self.size = size
        func reg(_ offset: UInt64, _ value: UInt32) {
            withUnsafeBytes(of: value.littleEndian) { transport.write(address: offset, offset: offset, from: $0) }
        }
        reg(VirtioMMIORegister.status, 3)
        reg(VirtioMMIORegister.driverFeaturesSelect, 1)
        reg(VirtioMMIORegister.driverFeatures, 1)
        reg(VirtioMMIORegister.status, 11)
        reg(VirtioMMIORegister.queueSize, UInt32(size))
        reg(VirtioMMIORegister.queueDescriptorLow, UInt32(Self.descriptors))
        reg(VirtioMMIORegister.queueDriverLow, UInt32(Self.available))
        reg(VirtioMMIORegister.queueDeviceLow, UInt32(Self.used))
        reg(VirtioMMIORegister.queueReady, 1)
        reg(VirtioMMIORegister.status, 15)
        guard transport.status.contains(.driverOK), !transport.status.contains(.needsReset) else {
            throw ExitCode.failure
        }
        let chain: [(UInt64, UInt32, UInt16)] = [(Self.header, 16, 1), (Self.data, 4096, 3), (Self.status, 1, 2)]
        for (i, (address, length, flags)) in chain.enumerated() {
            let base = Self.descriptors + 16 * UInt64(i)
            try memory.write(address, at: GuestAddress(base))
            try memory.write(length, at: GuestAddress(base + 8))
            try memory.write(flags, at: GuestAddress(base + 12))
            try memory.write(UInt16(i + 1), at: GuestAddress(base + 14))
        }
    }

    /// Makes a 4 KiB read of `sector` available (the caller notifies).
    func submitRead(sector: UInt64) throws {
        if index > 0, try memory.read(UInt8.self, at: GuestAddress(Self.status)) != 0 { statusesOK = false }
        try memory.write(sector, at: GuestAddress(Self.header + 8))
        try memory.write(UInt16(0), at: GuestAddress(Self.available + 4 + 2 * UInt64(index % size)))
        index &+= 1
        try memory.atomicStore(index, at: GuestAddress(Self.available + 2))
    }
}
