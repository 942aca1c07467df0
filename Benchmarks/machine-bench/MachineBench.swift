// machine-bench: what the Machine target's VMManager costs over the primitives it composes.
//
// 1. `add` → the guest's first exit, per VM, with 1, 10 and 50 VMs on the host (the others
//    admitted and started, their vCPU halted inside KVM: on the host, not on a CPU): the manager
//    validates, admits, builds (layout, KVM VM, IRQ chip, PIT, RAM, legacy devices, vCPU set-up),
//    starts a vCPU thread and sees the guest's first port write as its power-off outcome —
//    against the same VM made with the primitives called directly (KVMSystem, VM, IRQ chip, PIT,
//    RAM through GuestMemoryBridge, vCPU with CPUID, FPU, MSRs, LAPIC, real mode) and run on the
//    calling thread to its first exit. Target: at most 1.1× the direct path.
// 2. `remove` per VM (stop, join its threads, release its admission and everything it holds)
//    against dropping the directly made VM.
// 3. The manager's own cost per scheduling decision with 50 VMs × 2 vCPUs under one shared
//    dispatcher (weighted fair, 1 ms slices, 2 slots, spinning guests, `--seconds` long): the
//    dispatcher's measured time from one slice's end to the next slice's start on a worker
//    (accounting, lock, policy pick), against the same policy and accounting (SchedulerCore)
//    deciding for 100 runnable vCPUs in a loop with no threads or locks.
//
//     swift run -c release machine-bench [--rounds R] [--seconds S] [--json]
import ArgumentParser
import BenchmarkSupport
import Foundation
import GuestMemory
import HostPlacement
import HostSupport
import KVM
import Machine
import Scheduling
import VCPU
import VCPUScheduler

@main
struct MachineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "machine-bench", abstract: "VMManager add → first exit and remove vs the primitives directly.")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Seconds the 50 × 2 vCPUs run under the shared dispatcher (default 3).")
    var seconds: Double = 3

    /// Real mode: `mov dx, 0x600; mov al, 0x34; out dx, al; jmp $` (the first exit powers off).
    static let powerOff: [UInt8] = [0xBA, 0x00, 0x06, 0xB0, 0x34, 0xEE, 0xEB, 0xFE]
    /// Real mode: `cli; hlt` (halted inside KVM, with the in-kernel LAPIC: no CPU used).
    static let idle: [UInt8] = [0xFA, 0xF4]
    static let memorySize: UInt64 = 16 << 20

    func run() throws {
        let rounds = options.rounds ?? 20
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("machine-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let powerOffImage = dir.appendingPathComponent("poweroff.bin").path
        let idleImage = dir.appendingPathComponent("idle.bin").path
        try Data(Self.powerOff).write(to: URL(fileURLWithPath: powerOffImage))
        try Data(Self.idle).write(to: URL(fileURLWithPath: idleImage))
        func configuration(_ name: String, _ image: String) -> VirtualMachineConfiguration {
            VirtualMachineConfiguration(
                name: name, vcpuCount: 1, memorySize: Self.memorySize,
                boot: .flatBinary(FlatBinaryBoot(path: image, loadAddress: 0x1_0000, mode: .real)), console: .none)
        }

        var report = BenchmarkReport(
            title: "machine-bench: \(rounds) VMs per host size (medians, µs; 1 vCPU, 16 MiB each)",
            columns: ["VMs on the host", "measure", "VMManager", "primitives", "ratio"])
        for hostSize in [1, 10, 50] {
            let manager = VMManager(
                host: try HostResources(capacity: [.vcpus: 64, .memory: 64 << 30, .storage: 1 << 40]))
            var resident: [ManagedVM] = []
            for i in 0..<(hostSize - 1) {
                let vm = try manager.add(configuration("idle\(i)", idleImage))
                try vm.vm.start()
                resident.append(vm)
            }
            _ = try Self.direct(image: Self.powerOff)  // warm-up
            var addToExit: [Double] = [], removal: [Double] = []
            var directToExit: [Double] = [], directDrop: [Double] = []
            for round in 0..<rounds {
                // Alternate which side goes first; medians resist a shared host's outliers.
                for side in round % 2 == 0 ? [0, 1] : [1, 0] {
                    if side == 0 {
                        let start = monotonicNanoseconds()
                        var vm: ManagedVM? = try manager.add(configuration("bench", powerOffImage))
                        try vm?.vm.start()
                        guard vm?.vm.waitUntilStopped() == .poweredOff else { throw ValidationError("no power-off") }
                        let exited = monotonicNanoseconds()
                        // Removed and released: the last reference goes, so the VM is torn down here.
                        try manager.remove(vm!.id)
                        vm = nil
                        let removed = monotonicNanoseconds()
                        addToExit.append(Double(exited - start) / 1000)
                        removal.append(Double(removed - exited) / 1000)
                    } else {
                        let (toExit, drop) = try Self.direct(image: Self.powerOff)
                        directToExit.append(toExit / 1000)
                        directDrop.append(drop / 1000)
                    }
                }
            }
            for (name, ours, theirs) in [
                ("add → first exit", addToExit, directToExit), ("remove", removal, directDrop),
            ] {
                let o = Summary(ours).median, t = Summary(theirs).median
                report.add([
                    .text("\(hostSize)"), .text(name), .number(o, decimals: 1), .number(t, decimals: 1),
                    .number(o / t, decimals: 2),
                ])
            }
            for vm in resident { try manager.remove(vm.id) }
        }
        let alone = try Self.coreDecision(vcpus: 100)
        let image = try spinImage(in: dir)
        for (label, priority) in [("inherited", WorkerPriority.inherited), ("SCHED_FIFO", .realTimeFIFO(10))] {
            let (perDecision, decisions, refused) = try sharedDispatcherDecision(image: image, priority: priority)
            report.add([
                .text("50 × 2 vCPUs"),
                .text(
                    "per decision, \(label) workers\(refused ? " (refused: inherited)" : "") (\(decisions) decisions)"),
                .number(perDecision / 1000, decimals: 3), .number(alone / 1000, decimals: 3),
                .number(perDecision / alone, decimals: 2),
            ])
        }
        report.note("ratio = VMManager / primitives (target for add → first exit: ≤ 1.1)")
        report.note(
            "per scheduling decision: the shared dispatcher's slice end → next slice start on a worker, against "
                + "SchedulerCore (weighted fair + accounting) alone picking and accounting for 100 runnable vCPUs")
        report.note(
            "the manager's VM also has COM1, i8042, CMOS clock, port 0x80 and ACPI power control on its bus, "
                + "a vCPU thread, a watcher thread and admission; the direct VM has none of these")
        report.print(options)
    }

    /// Real mode `jmp $`, written to `dir`.
    func spinImage(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("spin.bin").path
        try Data([0xEB, 0xFE]).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// 50 VMs of 2 spinning vCPUs under one manager's dispatcher for `seconds`; the dispatcher's
    /// mean ns per decision and the number of decisions measured.
    /// Whether the workers' priority was refused (no CAP_SYS_NICE) comes back too.
    func sharedDispatcherDecision(image: String, priority: WorkerPriority) throws -> (Double, UInt64, Bool) {
        let manager = try VMManager(
            host: try HostResources(capacity: [.vcpus: 128, .memory: 64 << 30, .storage: 1 << 40]),
            scheduling: VMManagerScheduling(
                policy: try WeightedFairPolicy(slice: 1_000_000), slots: 2, workerPriority: priority))
        var vms: [ManagedVM] = []
        for i in 0..<50 {
            let vm = try manager.add(
                VirtualMachineConfiguration(
                    name: "vm\(i)", vcpuCount: 2, memorySize: Self.memorySize,
                    boot: .flatBinary(FlatBinaryBoot(path: image, loadAddress: 0x1_0000, mode: .real)),
                    console: .none))
            try vm.vm.start()
            vms.append(vm)
        }
        usleep(UInt32(max(0.1, seconds) * 1e6))
        let cost = manager.report().scheduling?.decisionCost ?? DecisionCost()
        let refused = manager.workersWithoutPriority > 0
        for vm in vms { try manager.remove(vm.id) }
        guard let mean = cost.mean else { throw ValidationError("the dispatcher made no decision") }
        return (mean, cost.decisions, refused)
    }

    /// ns per decision of weighted fair scheduling with accounting (SchedulerCore) for `vcpus`
    /// runnable vCPUs of 2 each per VM: pick, then account a 1 ms slice, in a loop.
    static func coreDecision(vcpus: Int) throws -> Double {
        var core = SchedulerCore(policy: try WeightedFairPolicy(slice: 1_000_000))
        for i in 0..<vcpus {
            let id = VCPUID(vm: VMID(UInt32(i / 2)), index: UInt32(i % 2))
            try core.add(id, parameters: SchedulingParameters(), at: 0)
            try core.wake(id, at: 0)
        }
        var now: Nanoseconds = 0
        let decisions = 200_000
        let start = monotonicNanoseconds()
        for _ in 0..<decisions {
            guard let decision = try core.pickNext(at: now) else { throw ValidationError("no vCPU to pick") }
            now += decision.slice
            try core.finish(decision.vcpu, exitHandling: 0, outcome: .preempted, at: now)
        }
        return Double(monotonicNanoseconds() - start) / Double(decisions)
    }

    /// A VM made with the primitives, run on this thread to its first exit; then dropped.
    /// Returns (create → first exit, drop) in ns.
    static func direct(image: [UInt8]) throws -> (Double, Double) {
        let start = monotonicNanoseconds()
        var drop: UInt64 = 0
        do {
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            try vm.prepareForX86(irqChip: .full)
            try vm.createPIT2(flags: 1)
            let (memory, bridge) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: memorySize)])
            try memory.write(contentsOf: image, at: GuestAddress(0x1_0000))
            let vcpu = try vm.createVCPU(id: 0)
            try vcpu.setCPUID(
                CPUIDBuilder.entries(from: kvm.supportedCPUID(), apicID: 0, topology: CPUTopology(coresPerPackage: 1)))
            try X86Setup.configureFPU(vcpu)
            try X86Setup.configureBootMSRs(vcpu)
            try X86Setup.configureLAPIC(vcpu)
            try X86Setup.configureRealMode(vcpu, codeSegment: 0x1000, ip: 0)
            exit: while true {
                switch try vcpu.run() {
                case .interrupted: continue
                case .io: break exit
                default: throw ValidationError("unexpected first exit")
                }
            }
            drop = monotonicNanoseconds()
            _ = bridge
        }
        let end = monotonicNanoseconds()
        return (Double(drop - start), Double(end - drop))
    }
}
