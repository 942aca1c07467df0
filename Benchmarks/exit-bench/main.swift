import ArgumentParser
import BenchmarkSupport
import CExitLoop
// exit-bench: the cost of one port-I/O exit round trip (guest `out` → KVM_RUN returns →
// re-enter), through a plain C loop, through the Swift KVM API, and through the VCPU target's
// full run loop (decode, statistics, port-I/O bus dispatch to a no-op device), interleaved in
// one process on the same vCPU so all see the same machine state.
//
//     swift run -c release exit-bench [--exits N] [--rounds R] [--json]
import DeviceModel
import HostSupport
import KVM
import Synchronization
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

@main
struct ExitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit-bench", abstract: "PIO exit round trip: Swift KVM API vs a C loop.")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Exits per measurement.")
    var exits = 100_000

    /// `mov dx, 0x3f8; 1: out dx, al; jmp 1b` — an endless stream of port writes.
    static let guest: [UInt8] = [0xba, 0xf8, 0x03, 0xee, 0xeb, 0xfd]

    func run() throws {
        let rounds = options.rounds ?? 7
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        try vm.prepareForX86()
        let size = 0x10000
        guard let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            memory != MAP_FAILED
        else { throw ExitCode.failure }
        defer { munmap(memory, size) }
        (memory + 0x1000).copyMemory(from: Self.guest, byteCount: Self.guest.count)
        try vm.setUserMemoryRegion(UserMemoryRegion(slot: 0, guestPhysicalAddress: 0, size: size, memory: memory))
        let vcpu = try vm.createVCPU(id: 0)
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        try vcpu.setSpecialRegisters(sregs)
        var regs = Registers()
        regs.rip = 0x1000
        regs.rflags = 2
        try vcpu.setRegisters(regs)

        // Warm up both paths.
        _ = try swiftLoop(vcpu, exits: 2_000)
        _ = try cLoop(vcpu, exits: 2_000)

        // The full run loop, parked between its measurements so the other loops can use the vCPU.
        let device = CountingDevice()
        let bus = PortIOBus()
        try bus.insert(device, base: 0x3f8, size: 1)
        let runner = VCPURunner(vcpu: vcpu, portIO: bus)
        device.runner.withLock { $0 = runner }
        try runner.start()
        try runner.pause()
        defer { runner.stop() }
        _ = try runLoop(runner, device, exits: 2_000)

        var swiftSamples: [Double] = []
        var cSamples: [Double] = []
        var runLoopSamples: [Double] = []
        for round in 0..<rounds {
            // Rotate which goes first so drift in the host does not favour one side.
            let order = [0, 1, 2].map { ($0 + round) % 3 }
            for path in order {
                switch path {
                case 0: cSamples.append(try cLoop(vcpu, exits: exits))
                case 1: swiftSamples.append(try swiftLoop(vcpu, exits: exits))
                default: runLoopSamples.append(try runLoop(runner, device, exits: exits))
                }
            }
        }

        var report = BenchmarkReport(
            title: "PIO exit round trip, \(exits) exits × \(rounds) rounds (ns/exit)",
            columns: ["path", "min", "median", "mean", "max", "ratio vs C (median)"])
        let c = Summary(cSamples)
        let swift = Summary(swiftSamples)
        let full = Summary(runLoopSamples)
        report.add(row("C loop (ioctl KVM_RUN)", c, ratio: 1))
        report.add(row("Swift KVMVirtualCPU.run()", swift, ratio: swift.median / c.median))
        report.add(row("VCPURunner loop + bus + no-op device", full, ratio: full.median / c.median))
        for (name, samples) in [("KVMVirtualCPU.run()", swiftSamples), ("VCPURunner", runLoopSamples)] {
            let roundRatios = zip(samples, cSamples).map { $0 / $1 }
            report.note(
                "per-round ratios (\(name)/C): " + roundRatios.map(formatRatio).joined(separator: " ")
                    + "; median " + formatRatio(Summary(roundRatios).median))
        }
        report.note(
            "targets: KVMVirtualCPU.run() <= 1.05 × C; VCPURunner <= 1.05 × C; host noise between runs is about ±15 %")
        report.print(options)
    }

    func row(_ name: String, _ s: Summary, ratio: Double) -> [ReportValue] {
        [
            .text(name), .number(s.min, decimals: 0), .number(s.median, decimals: 0), .number(s.mean, decimals: 0),
            .number(s.max, decimals: 0), .number(ratio, decimals: 3),
        ]
    }

    func formatRatio(_ r: Double) -> String { ReportValue.number(r, decimals: 3).display }

    /// ns per exit through the Swift API: run, decode, check it is port I/O.
    func swiftLoop(_ vcpu: KVMVirtualCPU, exits: Int) throws -> Double {
        var handled = 0
        let elapsed = try timeNanoseconds {
            while handled < exits {
                switch try vcpu.run() {
                case .io: handled += 1
                case .interrupted: continue
                default: throw ExitCode.failure
                }
            }
        }
        return Double(elapsed) / Double(exits)
    }

    /// ns per exit through the VCPU run loop: resume the parked runner, let the device time
    /// `exits` exits after a short warm-up, and park it again.
    func runLoop(_ runner: VCPURunner<KVMVirtualCPU>, _ device: CountingDevice, exits: Int) throws -> Double {
        device.arm(skip: 200, measure: exits)
        try runner.resume()
        runner.waitWhileRunning()
        guard runner.state == .paused, let elapsed = device.elapsed else { throw ExitCode.failure }
        return Double(elapsed) / Double(exits)
    }

    /// ns per exit through the C loop.
    func cLoop(_ vcpu: KVMVirtualCPU, exits: Int) throws -> Double {
        let result = c_pio_exit_loop(vcpu.fileDescriptor.rawValue, vcpu.kvmRun, UInt64(exits))
        guard result > 0 else { throw ExitCode.failure }
        return Double(result) / Double(exits)
    }
}

/// A port device that does nothing but count writes; it timestamps a measurement window of
/// exits and asks the runner to pause at its end.
final class CountingDevice: PortIODevice {
    struct Window {
        var seen = 0
        var start = 0
        var end = 0
        var startTime: UInt64 = 0
        var elapsed: UInt64?
    }

    let window = Mutex(Window())
    let runner = Mutex<VCPURunner<KVMVirtualCPU>?>(nil)

    func arm(skip: Int, measure: Int) {
        window.withLock { w in
            w.start = w.seen + skip
            w.end = w.start + measure
            w.elapsed = nil
        }
    }

    var elapsed: UInt64? { window.withLock { $0.elapsed } }

    func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {}

    func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        let done = window.withLock { w -> Bool in
            w.seen += 1
            if w.seen == w.start { w.startTime = monotonicNanoseconds() }
            if w.seen == w.end {
                w.elapsed = monotonicNanoseconds() - w.startTime
                return true
            }
            return false
        }
        if done { try? runner.withLock { $0 }?.requestPause() }
    }
}
