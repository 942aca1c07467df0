import ArgumentParser
import BlockStorage
import Devices
import ExampleSupport
import Foundation
import GuestMemory
import KVM
import Synchronization
import SystemPackage
import VCPU
import VCPUScheduler
import VHD

/// `swift run mini-vmm`: composes GuestMemory, KVM, VCPU, VHD, ResourceAllocator and Devices into
/// a working VM whose guest drives a virtio-blk disk like a real driver.
@main
struct MiniVMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mini-vmm",
        abstract: "Run a tiny guest that drives a virtio-blk disk (raw or VHD) on two or more vCPUs.",
        discussion: """
            Without --disk, a small dynamic VHD with known contents is created in a temporary \
            directory (in the snapshot directory with --snapshot). vCPU 0 negotiates features, sets \
            up a virtqueue, reads sectors 0-7, checksums them, writes sector 8, reads it back and \
            flushes, printing on the serial console; the other vCPUs compute and report over port \
            I/O. Exit status 0 only if the guest reported success and its results match the host's.

            Without --policy every vCPU runs on its own thread. With --policy the vCPUs run \
            through a VCPUScheduler dispatcher on --slots run tokens (fewer than vCPUs is fine: \
            at most that many run at once), and the final table adds the dispatcher's view \
            (T_cpu, T_io, T_wait, slices, preemptions per vCPU; its T_cpu is slot time minus exit \
            handling, so it includes time halted in KVM_RUN). Policies: round-robin (equal \
            turns); priority (vCPU 0, the disk driver, one level above the workers, with aging); \
            fair (weighted fair share, vCPU 0 weight 2, workers 1); capped (fair, each worker \
            capped at 25 % of a CPU); rt (earliest deadline first, every vCPU reserving \
            10 ms x slots / vCPUs every 10 ms). A vCPU waiting in HLT keeps its slot until its \
            slice ends (the in-kernel IRQ chip halts inside KVM_RUN). --snapshot and --restore \
            work with and without --policy; the policy is not part of the snapshot.
            """)

    @Option(help: "Disk image to drive (raw, or a fixed, dynamic or differencing VHD).")
    var disk: String?

    @Flag(help: "Open the disk read-only (virtio-blk VIRTIO_BLK_F_RO): the guest's write then fails.")
    var readOnly = false

    @Option(help: "Number of vCPUs (1-\(Machine.maximumVCPUs), default 2); vCPU 0 drives the disk.")
    var vcpus: Int?

    @Option(
        help: ArgumentHelp("Run the vCPUs through a VCPUScheduler dispatcher with this policy.", valueName: "policy"))
    var policy: PolicyChoice?

    @Option(help: "With --policy: run tokens (host worker slots) the vCPUs share (default 1).")
    var slots: Int?

    @Option(help: "With --policy: time slice in milliseconds (default 5; rt uses its reservations instead).")
    var sliceMs: Double?

    @Option(help: "Seconds to wait for the guest before giving up.")
    var timeout: Double = 120

    @Option(
        help: "Pause the VM mid-run (once the guest has checksummed what it read), save it to this directory and exit.")
    var snapshot: String?

    @Option(help: "Continue a VM saved with --snapshot from this directory.")
    var restore: String?

    static let stateFile = "machine.json"
    static let memoryFile = "memory.bin"

    /// What a snapshot directory holds besides guest memory.
    struct SavedRun: Codable {
        var diskPath: String
        var readOnly: Bool
        var vcpuCount: Int
        var expectedChecksum: UInt32
        var machine: MachineState
    }

    func validate() throws {
        if let vcpus, !(1...Machine.maximumVCPUs).contains(vcpus) {
            throw ValidationError("--vcpus must be between 1 and \(Machine.maximumVCPUs)")
        }
        if timeout.isNaN || timeout <= 0 { throw ValidationError("--timeout must be more than 0 seconds") }
        if snapshot != nil && restore != nil { throw ValidationError("--snapshot and --restore exclude each other") }
        if restore != nil && disk != nil { throw ValidationError("--restore uses the disk the snapshot names") }
        if restore != nil && (vcpus != nil || readOnly) {
            throw ValidationError("--vcpus and --read-only do not apply to --restore: the VM keeps the snapshot's")
        }
        if policy == nil && (slots != nil || sliceMs != nil) {
            throw ValidationError("--slots and --slice-ms need --policy")
        }
        if let slots, !(1...Machine.maximumVCPUs).contains(slots) {
            throw ValidationError("--slots must be between 1 and \(Machine.maximumVCPUs)")
        }
        if let sliceMs, !(sliceMs >= 0.1 && sliceMs <= 1000) {
            throw ValidationError("--slice-ms must be between 0.1 and 1000")
        }
    }

    func run() throws {
        do {
            try runVM()
        } catch let error as ExitCode {
            throw error
        } catch {
            // One readable line, naming the file where there is one (no NSError dumps).
            printError("mini-vmm: \(Self.readable(error))")
            throw ExitCode(1)
        }
    }

    /// A one-line description of `error`: Foundation's file errors as `PATH: reason`.
    static func readable(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError {
            let path = cocoa.filePath ?? cocoa.url?.path
            let reason =
                (cocoa.userInfo[NSUnderlyingErrorKey] as? NSError)?.localizedDescription ?? cocoa.localizedDescription
            return path.map { "\($0): \(reason)" } ?? reason
        }
        return "\(error)"
    }

    func runVM() throws {
        var temporaryDirectory: URL?
        defer { if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) } }
        var saved: SavedRun?
        if let restore {
            let data = try Data(contentsOf: URL(fileURLWithPath: restore).appendingPathComponent(Self.stateFile))
            saved = try JSONDecoder().decode(SavedRun.self, from: data)
        }
        let image: any BlockDevice
        let diskPath: String
        if let saved {
            diskPath = saved.diskPath
            image = try DemoDisk.open(path: diskPath, readOnly: saved.readOnly)
            print("disk: \(diskPath) (\(DemoDisk.describe(image))), restored from \(restore ?? "")")
        } else if let disk {
            diskPath = disk
            image = try DemoDisk.open(path: disk, readOnly: readOnly)
            print("disk: \(disk) (\(DemoDisk.describe(image)))")
        } else {
            let directory: URL
            if let snapshot {
                directory = URL(fileURLWithPath: snapshot)
            } else {
                directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "mini-vmm-\(UUID().uuidString)")
                temporaryDirectory = directory
            }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            diskPath = directory.appendingPathComponent("demo.vhd").path
            let demo = try DemoDisk.createDemo(at: diskPath)
            image = readOnly ? try DemoDisk.open(path: diskPath, readOnly: true) : demo
            print("disk: \(diskPath) (new demo disk: \(DemoDisk.describe(image)))")
        }
        guard image.capacity >= 9 * 512 else { throw ValidationError("the disk needs at least 9 sectors") }
        let expectedChecksum = try saved?.expectedChecksum ?? fnv1a(image.read(at: 0, length: 4096))
        let vcpuCount = saved?.vcpuCount ?? vcpus ?? 2

        let console = Console()
        let machine = try Machine(disk: image, vcpuCount: vcpuCount, gated: policy != nil, console: console.write)
        let scheduling = try policy.map { policy in
            try Scheduling(
                policy: policy, slots: slots ?? 1, slice: Nanoseconds((sliceMs ?? 5) * 1_000_000), vcpuCount: vcpuCount)
        }
        if let saved, let restore {
            let fd = try FileDescriptor.open(
                URL(fileURLWithPath: restore).appendingPathComponent(Self.memoryFile).path, .readOnly)
            defer { try? fd.close() }
            try machine.restore(saved.machine, memoryFile: fd)
        }
        print(
            "VM: \(Machine.memorySize >> 20) MiB, \(vcpuCount) vCPU(s) in long mode; virtio-blk at 0x"
                + String(machine.placement.mmioBase, radix: 16) + ", GSI \(machine.placement.gsi); serial at 0x3f8")
        if let scheduling {
            print(
                "vCPUs scheduled by \(scheduling.policy.rawValue) (\(scheduling.dispatcher.report().policyName)) on \(slots ?? 1) slot(s)"
            )
        }
        print(saved == nil ? "--- guest serial console ---" : "--- guest serial console (continued) ---")
        let (accounts, end) = try machine.run(
            timeoutSeconds: timeout, scheduling: scheduling, pauseWhen: snapshot == nil ? nil : { $0.checksum != nil })
        if end == .paused {
            // A pause can split a line of guest output: say so, so the two halves can be joined.
            print(console.atLineStart ? "--- paused ---" : "\n--- paused mid-line ---")
        } else {
            print("--- end of guest output ---")
        }
        let block = machine.block.statistics
        printSummary(
            accounts: accounts, block: block, chains: machine.transport.chainsServed,
            notifications: machine.worker.notificationCount, scheduling: scheduling?.dispatcher.report())

        if end == .paused, let snapshot {
            try save(
                machine, to: snapshot,
                run: SavedRun(
                    diskPath: URL(fileURLWithPath: diskPath).standardizedFileURL.path, readOnly: image.isReadOnly,
                    vcpuCount: vcpuCount, expectedChecksum: expectedChecksum, machine: machine.snapshot()))
            for runner in machine.runners { runner.stop() }
            print("snapshot saved to \(snapshot); continue with: mini-vmm --restore \(snapshot)")
            return
        }
        try judge(
            machine, timedOut: end == .timedOut, schedulerFailure: scheduling?.dispatcher.failure,
            expectedChecksum: expectedChecksum, vcpuCount: vcpuCount, capacity: image.capacity)
    }

    func save(_ machine: Machine, to directory: String, run: SavedRun) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(run).write(to: URL(fileURLWithPath: directory).appendingPathComponent(Self.stateFile))
        let fd = try FileDescriptor.open(
            URL(fileURLWithPath: directory).appendingPathComponent(Self.memoryFile).path, .writeOnly,
            options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        try GuestMemorySnapshot.write(machine.memory, to: fd)
    }

    /// Decides the exit status: 0 only if the guest succeeded and agrees with the host.
    func judge(
        _ machine: Machine, timedOut: Bool, schedulerFailure: SchedulerError?, expectedChecksum: UInt32, vcpuCount: Int,
        capacity: UInt64
    ) throws {
        var problems: [String] = []
        let reports = machine.reports.reports
        if timedOut { problems.append("timed out after \(timeout) s") }
        if let schedulerFailure { problems.append("the scheduler failed: \(schedulerFailure)") }
        for (index, runner) in machine.runners.enumerated() {
            if case .failed(let error) = runner.outcome { problems.append("vCPU \(index) failed: \(error)") }
            if runner.outcome == .shutdown { problems.append("vCPU \(index) shut down (triple fault)") }
        }
        switch reports.done {
        case 0?: break
        case let step?: problems.append("guest reported failure at step \(step)")
        case nil: problems.append("guest did not report")
        }
        // A report the guest never made is a failure, not a pass: "matches" below is printed
        // only for a checksum the guest did report.
        switch reports.checksum {
        case expectedChecksum?: break
        case let checksum?:
            problems.append(
                "guest checksum 0x\(String(checksum, radix: 16)) != host checksum 0x\(String(expectedChecksum, radix: 16))"
            )
        case nil: problems.append("guest did not report its checksum")
        }
        switch reports.capacity {
        case UInt32(truncatingIfNeeded: capacity / 512)?: break
        case let reported?: problems.append("guest saw capacity \(reported) sectors")
        case nil: problems.append("guest did not report the disk's capacity")
        }
        let expectedWorkers = Set((1..<UInt32(vcpuCount)).map { expectedWorkerResult(index: $0) })
        if Set(reports.workers) != expectedWorkers || reports.workers.count != vcpuCount - 1 {
            problems.append("worker reports \(reports.workers.map { String($0, radix: 16) }) do not match")
        } else if vcpuCount > 1 {
            print("workers: \(vcpuCount - 1) vCPU(s) reported correct results")
        }
        if problems.isEmpty {
            print("result: SUCCESS (guest checksum 0x\(String(expectedChecksum, radix: 16)) matches the host's)")
        } else {
            for problem in problems { print("result: FAILURE: \(problem)") }
            throw ExitCode(1)
        }
    }
}

/// The guest's serial output, written through stdio like `print()` so that the two stay in order.
final class Console: Sendable {
    private let lineStart = Atomic<Bool>(true)

    /// Whether the last byte written ended a line (or nothing was written).
    var atLineStart: Bool { lineStart.load(ordering: .relaxed) }

    var write: @Sendable (UInt8) -> Void {
        { [self] byte in
            putchar(Int32(byte))
            if byte == 10 { fflush(nil) }
            lineStart.store(byte == 10, ordering: .relaxed)
        }
    }
}
