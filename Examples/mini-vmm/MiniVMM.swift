import ArgumentParser
import BlockStorage
import ExampleSupport
import Foundation
import Machine
import VCPUScheduler

/// `swift run mini-vmm`: a VM from a configuration (the Machine target), whose guest drives a
/// virtio-blk disk like a real driver; with `--vms N`, N of them at once under one VM manager.
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
            I/O. Exit status 0 only if the guest reported success and its results match the host's. \
            The VM is a Machine-target VirtualMachineConfiguration (16 MiB, the guest as a flat \
            binary in long mode, the disk, the console on standard output) run by a VMManager.

            --vms N runs N copies of the demo guest at once under one VMManager, each with a demo \
            disk of its own (vm-1.vhd ... in the temporary directory; --disk is refused, since two \
            VMs may not write one image), each guest's console in vm-K.console there (printed after \
            the run). It prints the manager's table — per VM what it was given (R: vCPUs, memory, \
            disk), where its time went (T = T_cpu + T_io + T_wait) and the hardware mapped to it (H: \
            vCPU threads, RAM, disks, devices), then the totals — and judges each VM's guest; exit \
            status 0 only if every VM's guest succeeded.

            Without --policy every vCPU runs on its own thread. With --policy one dispatcher runs \
            the vCPUs of every VM on --slots run tokens (fewer than vCPUs is fine: at most that many \
            run at once), and the final table adds the dispatcher's view (T_cpu, T_io, T_wait, \
            slices, preemptions per vCPU; its T_cpu is slot time minus exit handling, so it includes \
            time halted in KVM_RUN). The manager gives each VM one share — every vCPU of a VM runs \
            with the same parameters — so the policies tell VMs apart: round-robin (equal turns); \
            priority (VM 1 one level above the others, with aging); fair (weighted fair share, VM 1 \
            weight 2, the others 1); capped (fair, and every vCPU capped at 25 % of a CPU); rt \
            (earliest deadline first, every vCPU of every VM reserving 10 ms x slots / vCPUs every \
            10 ms). With one VM its vCPUs share one set of parameters. A vCPU waiting in HLT keeps \
            its slot until its slice ends (the in-kernel IRQ chip halts inside KVM_RUN).

            --channels runs another guest instead (no disk): a VM with a virtio console on standard \
            output and a vsock device. The guest narrates on the console, opens a vsock stream to \
            host port 5000 (the Unix socket vm.vsock_5000 in the temporary directory, where mini-vmm \
            listens), sends a line, reads the host's reply, sends it back and closes; exit status 0 \
            only if both sides saw every byte.

            --snapshot pauses the VM once the guest has checksummed what it read and saves it \
            (VirtualMachine.snapshot: machine.json, memory.bin, and mini-vmm.json for what the guest \
            reported so far); --restore continues it in a new process (VirtualMachine(restoring:)), \
            under --policy like a new run (the policy is not part of the snapshot). Both work with \
            one VM only.
            """)

    @Option(help: "Disk image to drive (raw, or a fixed, dynamic or differencing VHD).")
    var disk: String?

    @Flag(help: "Open the disk read-only (virtio-blk VIRTIO_BLK_F_RO): the guest's write then fails.")
    var readOnly = false

    @Option(help: "Number of vCPUs (1-\(DemoVM.maximumVCPUs), default 2); vCPU 0 drives the disk.")
    var vcpus: Int?

    @Option(help: "Number of VMs run at once under one VM manager (1-\(Self.maximumVMs)), each with a demo disk.")
    var vms: Int = 1

    @Option(
        help: ArgumentHelp(
            "Run the vCPUs of every VM through one VCPUScheduler dispatcher with this policy.", valueName: "policy"))
    var policy: PolicyChoice?

    @Option(help: "With --policy: run tokens (host worker slots) the vCPUs share (default 1).")
    var slots: Int?

    @Option(help: "With --policy: time slice in milliseconds (default 5; rt uses its reservations instead).")
    var sliceMs: Double?

    @Option(
        help: ArgumentHelp(
            "How the disk's queue is served: on an event loop that polls adaptively (polling, the default), on one that does not (loop), or on the vCPU in its exit (inline).",
            valueName: "mode"))
    var deviceService: DeviceServiceChoice = .polling

    @Flag(help: "Run the channels demo instead: a guest that talks to the host over a virtio console and vsock.")
    var channels = false

    @Option(help: "Seconds to wait for the guest(s) before giving up.")
    var timeout: Double = 120

    @Option(
        help: "Pause the VM mid-run (once the guest has checksummed what it read), save it to this directory and exit.")
    var snapshot: String?

    @Option(help: "Continue a VM saved with --snapshot from this directory.")
    var restore: String?

    static let maximumVMs = 16
    /// Storage admitted per byte free where the disks live: the disks are thin (a dynamic VHD,
    /// a sparse raw file), so their virtual capacity may exceed what is free.
    static let storageOvercommit = 64.0
    /// mini-vmm's own part of a snapshot directory (the VM's is `VirtualMachineSnapshot`'s files).
    static let sideFile = "mini-vmm.json"

    /// What mini-vmm keeps besides the VM's snapshot: the host's view of the disk and what the
    /// guest reported before the pause.
    struct SavedRun: Codable {
        var expectedChecksum: UInt32
        var capacity: UInt64
        var reports: ReportDevice.Reports
    }

    func validate() throws {
        if let vcpus, !(1...DemoVM.maximumVCPUs).contains(vcpus) {
            throw ValidationError("--vcpus must be between 1 and \(DemoVM.maximumVCPUs)")
        }
        if !(1...Self.maximumVMs).contains(vms) {
            throw ValidationError("--vms must be between 1 and \(Self.maximumVMs)")
        }
        if timeout.isNaN || timeout <= 0 { throw ValidationError("--timeout must be more than 0 seconds") }
        if snapshot != nil && restore != nil { throw ValidationError("--snapshot and --restore exclude each other") }
        if channels
            && (disk != nil || readOnly || vcpus != nil || vms != 1 || policy != nil || snapshot != nil
                || restore != nil)
        {
            throw ValidationError(
                "--channels runs its own one-vCPU guest: --disk, --read-only, --vcpus, --vms, --policy, --snapshot and --restore do not apply"
            )
        }
        if vms > 1 && (snapshot != nil || restore != nil) {
            throw ValidationError("--snapshot and --restore work with one VM (--vms 1)")
        }
        if vms > 1 && disk != nil {
            throw ValidationError(
                "--disk names one image, which only one VM may write: --vms gives each VM a demo disk")
        }
        if restore != nil && disk != nil { throw ValidationError("--restore uses the disk the snapshot names") }
        if restore != nil && (vcpus != nil || readOnly) {
            throw ValidationError("--vcpus and --read-only do not apply to --restore: the VM keeps the snapshot's")
        }
        if policy == nil && (slots != nil || sliceMs != nil) {
            throw ValidationError("--slots and --slice-ms need --policy")
        }
        if let slots, !(1...DemoVM.maximumVCPUs).contains(slots) {
            throw ValidationError("--slots must be between 1 and \(DemoVM.maximumVCPUs)")
        }
        if let sliceMs, !(sliceMs >= 0.1 && sliceMs <= 1000) {
            throw ValidationError("--slice-ms must be between 0.1 and 1000")
        }
    }

    func run() throws {
        do {
            if channels {
                try runChannels()
            } else if let restore {
                try runRestored(from: restore)
            } else {
                try runVMs()
            }
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

    /// What the host sees on a disk: its description, the FNV-1a of sectors 0-7, its capacity.
    /// The image is open only meanwhile (the VM opens and locks it itself).
    static func inspect(_ path: String, readOnly: Bool, describedReadOnly: Bool? = nil) throws -> (
        description: String, checksum: UInt32, capacity: UInt64
    ) {
        let image = try DemoDisk.open(path: path, readOnly: readOnly)
        guard image.capacity >= 9 * 512 else { throw ValidationError("the disk needs at least 9 sectors") }
        return (
            DemoDisk.describe(image, readOnly: describedReadOnly), fnv1a(try image.read(at: 0, length: 4096)),
            image.capacity
        )
    }

    /// The host's view of one VM's disk.
    struct DiskCheck {
        var path: String
        var expectedChecksum: UInt32
        var capacity: UInt64
    }

    /// The channels demo, in a temporary directory removed afterwards.
    func runChannels() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mini-vmm-channels-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        if !(try ChannelsDemo.run(in: directory, timeoutSeconds: timeout)) { throw ExitCode(1) }
    }

    /// A new run (not a restore): one VM, or `--vms` of them, under one VMManager.
    func runVMs() throws {
        var temporaryDirectory: URL?
        defer { if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) } }
        // The disk first: a missing or busy --disk is the only line printed.
        var given: (description: String, checksum: UInt32, capacity: UInt64)?
        if let disk { given = try Self.inspect(disk, readOnly: readOnly) }
        let directory: URL
        if let snapshot {
            directory = URL(fileURLWithPath: snapshot)
        } else {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("mini-vmm-\(UUID().uuidString)")
            temporaryDirectory = directory
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        var disks: [DiskCheck] = []
        if let disk, let given {
            print("disk: \(disk) (\(given.description))")
            disks = [DiskCheck(path: disk, expectedChecksum: given.checksum, capacity: given.capacity)]
        } else {
            for index in 0..<vms {
                let path = directory.appendingPathComponent(vms == 1 ? "demo.vhd" : "vm-\(index + 1).vhd").path
                _ = try DemoDisk.createDemo(at: path)  // closed again at once
                let demo = try Self.inspect(path, readOnly: readOnly)
                disks.append(DiskCheck(path: path, expectedChecksum: demo.checksum, capacity: demo.capacity))
                if vms == 1 { print("disk: \(path) (new demo disk: \(demo.description))") }
                if vms > 1 && index == 0 {
                    print("disks: \(vms) new demo disks in \(directory.path) (each \(demo.description))")
                }
            }
        }
        let vcpuCount = vcpus ?? 2
        let guest = try DemoVM.writeGuest(in: directory)
        let slots = self.slots ?? 1
        let manager = try makeManager(storageDirectory: directory.path, vcpus: vms * vcpuCount)
        let board = ReportBoard(vms: vms)
        var machines: [ManagedVM] = []
        for (index, disk) in disks.enumerated() {
            let name = vms == 1 ? "mini-vmm" : "vm-\(index + 1)"
            let console: ConsoleConfiguration =
                vms == 1 ? .standardOutput : .file(path: directory.appendingPathComponent("\(name).console").path)
            let configuration = DemoVM.configuration(
                name: name, vcpus: vcpuCount, guest: guest,
                disk: URL(fileURLWithPath: disk.path).standardizedFileURL.path, readOnly: readOnly, console: console,
                scheduling: policy?.share(vm: index, vcpus: vms * vcpuCount, slots: slots) ?? SchedulingConfiguration(),
                deviceService: deviceService.configuration)
            let managed = try manager.add(
                configuration, devices: [DemoVM.attachment(ReportDevice(board: board, index: index))])
            machines.append(managed)
        }
        printMachine(machines[0].vm, count: vms, manager: manager)
        if vms == 1 {
            try runOne(machines[0], board: board, disk: disks[0], manager: manager, continued: false)
        } else {
            try runMany(machines, board: board, disks: disks, manager: manager, directory: directory)
        }
    }

    /// Continues a VM saved with `--snapshot` in `directory`.
    func runRestored(from directory: String) throws {
        let url = URL(fileURLWithPath: directory)
        // The VM's snapshot first, for its disk (and a readable error naming a missing file).
        let state = try JSONDecoder().decode(
            VirtualMachineSnapshot.self,
            from: Data(contentsOf: url.appendingPathComponent(VirtualMachineSnapshot.stateFile)))
        let saved = try JSONDecoder().decode(
            SavedRun.self, from: Data(contentsOf: url.appendingPathComponent(Self.sideFile)))
        guard let disk = state.configuration.disks.first else {
            throw ValidationError("\(directory): the snapshot has no disk")
        }
        // Read-only, and closed at once: the VM reopens it as the snapshot says.
        let described = try Self.inspect(disk.path, readOnly: true, describedReadOnly: disk.readOnly)
        print("disk: \(disk.path) (\(described.description)), restored from \(directory)")
        let board = ReportBoard(vms: 1)
        let reports = ReportDevice(board: board, index: 0)
        reports.restore(saved.reports)
        // Under a manager like a new run: with --policy, the restored VM's vCPUs join its dispatcher.
        let vcpuCount = state.configuration.vcpuCount
        let manager = try makeManager(
            storageDirectory: URL(fileURLWithPath: disk.path).deletingLastPathComponent().path, vcpus: vcpuCount)
        let managed = try manager.add(restoring: directory, devices: [DemoVM.attachment(reports)])
        if let policy {
            try manager.setScheduling(policy.share(vm: 0, vcpus: vcpuCount, slots: slots ?? 1), for: managed.id)
        }
        printMachine(managed.vm, count: 1, manager: manager)
        try runOne(
            managed, board: board,
            disk: DiskCheck(path: disk.path, expectedChecksum: saved.expectedChecksum, capacity: saved.capacity),
            manager: manager, continued: true)
    }

    /// The run's VM manager: this host's resources with enough vCPU overcommit for `vcpus` vCPUs
    /// in all, however few its CPUs, and one dispatcher under `--policy`.
    func makeManager(storageDirectory: String, vcpus: Int) throws -> VMManager {
        let scheduling = try policy.map { policy in
            VMManagerScheduling(
                policy: try policy.makePolicy(slice: Nanoseconds((sliceMs ?? 5) * 1_000_000)), slots: slots ?? 1)
        }
        return try VMManager.thisHost(
            storageDirectory: storageDirectory, vcpuOvercommit: Double(max(1, vcpus)),
            storageOvercommit: Self.storageOvercommit, scheduling: scheduling)
    }

    /// The lines that describe the run's `count` VMs (like `vm`) and how they are scheduled.
    func printMachine(_ vm: VirtualMachine, count: Int, manager: VMManager) {
        print(
            "VM\(count > 1 ? "s: \(count) x" : ":") \(vm.configuration.memorySize >> 20) MiB, "
                + "\(vm.configuration.vcpuCount) vCPU(s) in long mode; "
                + "virtio-blk at 0x" + String(vm.diskPlacements[0].mmioBase, radix: 16)
                + ", GSI \(vm.diskPlacements[0].gsi); serial at 0x3f8"
                + (count > 1 ? "; under one VMManager" : ""))
        if let policy, let report = manager.report().scheduling {
            print(
                "\(count > 1 ? "vCPUs of all VMs" : "vCPUs") scheduled by \(policy.rawValue) (\(report.policyName)) "
                    + "on \(report.cpus) slot(s)")
        }
    }

    /// Waits (on a thread of its own) for `vm` to stop and records why on `board`.
    static func watch(_ vm: VirtualMachine, index: Int, on board: ReportBoard) {
        Thread.detachNewThread { board.stopped(index, vm.waitUntilStopped()) }
    }

    /// Whether a guest of `vcpus` vCPUs is done: the driver reported and every worker did.
    static func finished(_ reports: ReportDevice.Reports, vcpus: Int) -> Bool {
        reports.done != nil && reports.workers.count >= vcpus - 1
    }

    /// Waits until every guest is done, a VM stops, the dispatcher fails or the timeout passes;
    /// returns whether it timed out.
    func waitForGuests(
        _ board: ReportBoard, vcpus: Int, manager: VMManager, until condition: ((ReportDevice.Reports) -> Bool)? = nil
    ) -> Bool {
        board.waitUntilEveryVM(
            condition ?? { Self.finished($0, vcpus: vcpus) }, timeoutSeconds: timeout,
            // The dispatcher does not announce a failure: look every 100 ms while it schedules.
            recheckSeconds: policy != nil ? 0.1 : nil,
            giveUp: { manager.schedulingFailure != nil })
    }

    /// Runs one VM of `manager` — new or restored — to the end (or to the pause for
    /// `--snapshot`), prints its table and judges it.
    func runOne(_ managed: ManagedVM, board: ReportBoard, disk: DiskCheck, manager: VMManager, continued: Bool) throws {
        let vm = managed.vm
        print(continued ? "--- guest serial console (continued) ---" : "--- guest serial console ---")
        // The console writes to standard output directly: what print() buffered goes first.
        fflush(nil)
        Self.watch(vm, index: 0, on: board)
        try vm.start()
        let vcpuCount = vm.configuration.vcpuCount
        let timedOut = waitForGuests(
            board, vcpus: vcpuCount, manager: manager, until: snapshot == nil ? nil : { $0.checksum != nil })
        let paused = snapshot != nil && !timedOut && vm.state == .running
        if paused { try vm.pause() }
        // The threads' figures and the dispatcher's rows while the vCPUs are still there.
        let accounts = VCPUAccount.of(vm)
        let report = manager.report()
        let entry = board.entries[0]
        if paused, let snapshot {
            // The console may have stopped mid-line: the marker starts a line of its own (that
            // newline is mini-vmm's, not the guest's).
            print("\n--- paused ---")
            try save(
                vm, to: snapshot,
                run: SavedRun(
                    expectedChecksum: disk.expectedChecksum, capacity: disk.capacity, reports: entry.reports))
        }
        try manager.remove(managed.id)
        if !paused { print("--- end of guest output ---") }
        printSummary(accounts: accounts, disk: DiskCounts(vm), scheduling: report.scheduling, vm: managed.schedulingVM)
        if paused, let snapshot {
            print("snapshot saved to \(snapshot); continue with: mini-vmm --restore \(snapshot)")
            return
        }
        let problems = judge(
            entry, timedOut: timedOut, schedulerFailure: manager.schedulingFailure, disk: disk, vcpuCount: vcpuCount,
            prefix: "")
        if !problems.isEmpty { throw ExitCode(1) }
    }

    /// Runs every VM of `machines` at once, prints each guest's console, the manager's table
    /// and each VM's verdict.
    func runMany(
        _ machines: [ManagedVM], board: ReportBoard, disks: [DiskCheck], manager: VMManager, directory: URL
    ) throws {
        print("--- \(machines.count) VMs running; each guest's serial console goes to <name>.console ---")
        fflush(nil)
        for (index, managed) in machines.enumerated() {
            Self.watch(managed.vm, index: index, on: board)
            try managed.vm.start()
        }
        let vcpuCount = machines[0].vm.configuration.vcpuCount
        let timedOut = waitForGuests(board, vcpus: vcpuCount, manager: manager)
        // T per VM while its vCPU threads still run (and are still in the dispatcher).
        let report = manager.report()
        let entries = board.entries
        let counts = machines.map { DiskCounts($0.vm) }
        for managed in machines { try manager.remove(managed.id) }
        for managed in machines {
            print("--- \(managed.name) serial console ---")
            let text =
                (try? String(contentsOf: directory.appendingPathComponent("\(managed.name).console"), encoding: .utf8))
                ?? ""
            print(text, terminator: text.isEmpty || text.hasSuffix("\n") ? "" : "\n")
        }
        print("--- end of guest output ---")
        print("")
        print("VMs (R = vCPUs + memory + disk given; T = T_cpu + T_io + T_wait; H = hardware mapped):")
        print(report.description)
        if let scheduling = report.scheduling {
            printDispatcher(scheduling, vm: nil)
        }
        var failed: [String] = []
        for (index, managed) in machines.enumerated() {
            print("\(managed.name): " + (counts[index]?.line ?? "disk requests served: n/a"))
            let problems = judge(
                entries[index], timedOut: timedOut, schedulerFailure: manager.schedulingFailure, disk: disks[index],
                vcpuCount: vcpuCount, prefix: "\(managed.name): ")
            if !problems.isEmpty { failed.append(managed.name) }
        }
        if failed.isEmpty {
            print("result: SUCCESS: the guests of all \(machines.count) VMs succeeded")
        } else {
            print(
                "result: FAILURE: \(failed.count) of \(machines.count) VMs failed (\(failed.joined(separator: ", ")))")
            throw ExitCode(1)
        }
    }

    /// Saves the paused `vm` into `directory` (which may hold the demo disk already): the VM's
    /// snapshot files, made by `VirtualMachine.snapshot(to:)` next door and moved in, and
    /// mini-vmm's ``SavedRun``.
    func save(_ vm: VirtualMachine, to directory: String, run: SavedRun) throws {
        let target = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let staging = target.appendingPathComponent(".vm-snapshot-\(getpid())")
        try? FileManager.default.removeItem(at: staging)
        try vm.snapshot(to: staging.path)
        defer { try? FileManager.default.removeItem(at: staging) }
        for file in [VirtualMachineSnapshot.stateFile, VirtualMachineSnapshot.memoryFile] {
            let destination = target.appendingPathComponent(file)
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.moveItem(at: staging.appendingPathComponent(file), to: destination)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(run).write(to: target.appendingPathComponent(Self.sideFile))
    }

    /// Prints one VM's verdict (each line after `prefix`); returns its problems (none: success).
    func judge(
        _ entry: ReportBoard.Entry, timedOut: Bool, schedulerFailure: SchedulerError?, disk: DiskCheck,
        vcpuCount: Int, prefix: String
    ) -> [String] {
        var problems: [String] = []
        let reports = entry.reports
        // The wait timed out for the VMs whose guests had not finished.
        if timedOut && !Self.finished(reports, vcpus: vcpuCount) && entry.outcome == nil {
            problems.append("timed out after \(timeout) s")
        }
        if let schedulerFailure { problems.append("the scheduler failed: \(schedulerFailure)") }
        if let outcome = entry.outcome { problems.append("the VM stopped: \(outcome)") }
        switch reports.done {
        case 0?: break
        case let step?: problems.append("guest reported failure at step \(step)")
        case nil: problems.append("guest did not report")
        }
        // A report the guest never made is a failure, not a pass: "matches" below is printed
        // only for a checksum the guest did report.
        let expected = disk.expectedChecksum
        switch reports.checksum {
        case expected?: break
        case let checksum?:
            problems.append(
                "guest checksum 0x\(String(checksum, radix: 16)) != host checksum 0x\(String(expected, radix: 16))")
        case nil: problems.append("guest did not report its checksum")
        }
        switch reports.capacity {
        case UInt32(truncatingIfNeeded: disk.capacity / 512)?: break
        case let reported?: problems.append("guest saw capacity \(reported) sectors")
        case nil: problems.append("guest did not report the disk's capacity")
        }
        let expectedWorkers = Set((1..<UInt32(vcpuCount)).map { expectedWorkerResult(index: $0) })
        if Set(reports.workers) != expectedWorkers || reports.workers.count != vcpuCount - 1 {
            problems.append("worker reports \(reports.workers.map { String($0, radix: 16) }) do not match")
        } else if vcpuCount > 1 {
            print("\(prefix)workers: \(vcpuCount - 1) vCPU(s) reported correct results")
        }
        if problems.isEmpty {
            print("\(prefix)result: SUCCESS (guest checksum 0x\(String(expected, radix: 16)) matches the host's)")
        } else {
            for problem in problems { print("\(prefix)result: FAILURE: \(problem)") }
        }
        return problems
    }
}
