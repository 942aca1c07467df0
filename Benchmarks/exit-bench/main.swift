// exit-bench: the cost of one port-I/O exit round trip (guest `out` → KVM_RUN returns →
// re-enter), through the Swift KVM API and through a plain C loop, interleaved in one process
// on the same vCPU so both see the same machine state.
//
//     swift run -c release exit-bench [--exits N] [--rounds R] [--json]
import ArgumentParser
import BenchmarkSupport
import CExitLoop
import KVM

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
        try vm.setTSSAddress(0xfffb_d000)
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

        var swiftSamples: [Double] = []
        var cSamples: [Double] = []
        for round in 0..<rounds {
            // Alternate which goes first so drift in the host does not favour one side.
            if round % 2 == 0 {
                swiftSamples.append(try swiftLoop(vcpu, exits: exits))
                cSamples.append(try cLoop(vcpu, exits: exits))
            } else {
                cSamples.append(try cLoop(vcpu, exits: exits))
                swiftSamples.append(try swiftLoop(vcpu, exits: exits))
            }
        }

        var report = BenchmarkReport(
            title: "PIO exit round trip, \(exits) exits × \(rounds) rounds (ns/exit)",
            columns: ["path", "min", "median", "mean", "max", "ratio vs C (median)"])
        let c = Summary(cSamples)
        let swift = Summary(swiftSamples)
        report.add(row("C loop (ioctl KVM_RUN)", c, ratio: 1))
        report.add(row("Swift KVMVirtualCPU.run()", swift, ratio: swift.median / c.median))
        let roundRatios = zip(swiftSamples, cSamples).map { $0 / $1 }
        report.note("per-round ratios (Swift/C): " + roundRatios.map(formatRatio).joined(separator: " ")
            + "; median " + formatRatio(Summary(roundRatios).median))
        report.note("target: Swift within 5 % of C (ratio <= 1.05); host noise between runs is about ±15 %")
        report.print(options)
    }

    func row(_ name: String, _ s: Summary, ratio: Double) -> [ReportValue] {
        [.text(name), .number(s.min, decimals: 0), .number(s.median, decimals: 0), .number(s.mean, decimals: 0),
         .number(s.max, decimals: 0), .number(ratio, decimals: 3)]
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

    /// ns per exit through the C loop.
    func cLoop(_ vcpu: KVMVirtualCPU, exits: Int) throws -> Double {
        let result = c_pio_exit_loop(vcpu.fileDescriptor.rawValue, vcpu.kvmRun, UInt64(exits))
        guard result > 0 else { throw ExitCode.failure }
        return Double(result) / Double(exits)
    }
}
