import Foundation
import KVM
import Machine
import TestSupport
import Testing
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

/// A `VirtualMachine` from a configuration runs real guest code on KVM: its console reaches the
/// configured file; every way a guest ends the run (ACPI power-off and reset, the i8042 reset, a
/// triple fault) is its typed outcome; the lifecycle is a state machine — every order of start,
/// pause, resume and stop either works or is refused by name, stop is idempotent, and state
/// changes are streamed, not polled; an invalid configuration creates nothing, and a build that
/// fails part-way releases what it created.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct VirtualMachineTests {
    /// Real mode: `mov dx, 0x3f8; mov al, 'h'; out dx, al; mov al, 'i'; out dx, al; mov al, 10; out dx, al`
    static let greeting: [UInt8] = [0xBA, 0xF8, 0x03, 0xB0, 0x68, 0xEE, 0xB0, 0x69, 0xEE, 0xB0, 0x0A, 0xEE]
    /// Real mode: `mov dx, 0x600; mov al, 0x34; out dx, al; jmp $` (ACPI S5).
    static let powerOff: [UInt8] = [0xBA, 0x00, 0x06, 0xB0, 0x34, 0xEE, 0xEB, 0xFE]
    /// `jmp $`
    static let spin: [UInt8] = [0xEB, 0xFE]

    /// A configuration for `code` as a real-mode flat binary at 0x10000, console in `dir`.
    static func configuration(
        _ code: [UInt8], in dir: TemporaryDirectory, vcpus: Int = 1, mode: FlatBinaryBoot.Mode = .real
    )
        throws -> VirtualMachineConfiguration
    {
        let image = dir.file("guest.bin")
        try Data(code).write(to: URL(fileURLWithPath: image))
        let load: UInt64 = mode == .real ? 0x1_0000 : 0x10_0000
        return VirtualMachineConfiguration(
            name: "test", vcpuCount: vcpus, memorySize: 16 << 20,
            boot: .flatBinary(FlatBinaryBoot(path: image, loadAddress: load, mode: mode)),
            console: .file(path: dir.file("console.log")))
    }

    /// Gives `configuration` a zeroed 1 MiB raw disk in `dir`; returns its path.
    @discardableResult
    static func addDisk(to configuration: inout VirtualMachineConfiguration, in dir: TemporaryDirectory) throws
        -> String
    {
        let disk = dir.file("disk.raw")
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: disk))
        configuration.disks = [DiskConfiguration(path: disk)]
        return disk
    }

    /// The README's shape: a configuration, a VM, start, the outcome.
    @Test func aGuestPrintsAndPowersOff() async throws {
        let dir = try TemporaryDirectory()
        let vm = try VirtualMachine(configuration: Self.configuration(Self.greeting + Self.powerOff, in: dir))
        try vm.start()
        let outcome = await vm.stopped()
        #expect(outcome == .poweredOff)
        #expect(vm.state == .stopped(.poweredOff))
        #expect(try String(contentsOfFile: dir.file("console.log"), encoding: .utf8) == "hi\n")
        #expect(vm.vcpuUsage.first?.ioExits ?? 0 >= 4, "three serial writes and the power-off")
    }

    @Test func everyGuestStopIsItsOutcome() throws {
        let dir = try TemporaryDirectory()
        // mov al, 0xfe; out 0x64, al; jmp $
        let i8042: [UInt8] = [0xB0, 0xFE, 0xE6, 0x64, 0xEB, 0xFE]
        // mov dx, 0x600; mov al, 1; out dx, al; jmp $
        let acpiReset: [UInt8] = [0xBA, 0x00, 0x06, 0xB0, 0x01, 0xEE, 0xEB, 0xFE]
        for (code, mode, expected) in [
            (i8042, FlatBinaryBoot.Mode.real, VirtualMachineOutcome.reset(.keyboardController)),
            (acpiReset, .real, .reset(.acpi)),
            ([0x0F, 0x0B], .long, .reset(.tripleFault)),  // ud2 with the empty boot IDT
        ] {
            let vm = try VirtualMachine(configuration: Self.configuration(code, in: dir, vcpus: 2, mode: mode))
            try vm.start()
            #expect(vm.waitUntilStopped() == expected)
            #expect(vm.runners.allSatisfy { $0.state == .stopped }, "every vCPU stopped with the VM")
        }
    }

    @Test func theLifecycleInEveryOrder() async throws {
        let dir = try TemporaryDirectory()
        let vm = try VirtualMachine(configuration: Self.configuration(Self.spin, in: dir, vcpus: 2))
        var changes = vm.stateChanges().makeAsyncIterator()
        #expect(await changes.next() == .created)
        #expect(throws: VirtualMachineError.self) { try vm.pause() }
        #expect(throws: VirtualMachineError.self) { try vm.resume() }
        try vm.start()
        #expect(await changes.next() == .running)
        #expect(throws: VirtualMachineError.self) { try vm.start() }
        #expect(throws: VirtualMachineError.self) { try vm.resume() }
        try vm.pause()
        #expect(await changes.next() == .paused)
        #expect(vm.runners.allSatisfy { $0.state == .paused })
        #expect(throws: VirtualMachineError.self) { try vm.pause() }
        try vm.resume()
        #expect(await changes.next() == .running)
        #expect(vm.stop() == .stoppedByOwner)
        #expect(await changes.next() == .stopped(.stoppedByOwner))
        #expect(await changes.next() == nil, "the stream ends after stopped")
        #expect(vm.stop() == .stoppedByOwner, "stopping twice is harmless")
        for action in [vm.start, vm.pause, vm.resume] {
            #expect(throws: VirtualMachineError.self) { try action() }
        }
        #expect(vm.waitUntilStopped(timeout: 0) == .stoppedByOwner)
    }

    @Test func theAsyncFormsDriveTheLifecycle() async throws {
        let dir = try TemporaryDirectory()
        let vm = try VirtualMachine(configuration: Self.configuration(Self.spin, in: dir, vcpus: 2))
        try await vm.started()
        #expect(vm.state == .running)
        await #expect(throws: VirtualMachineError.self) { try await vm.started() }
        try await vm.paused()
        #expect(vm.state == .paused && vm.runners.allSatisfy { $0.state == .paused })
        try await vm.resumed()
        #expect(vm.state == .running)
        #expect(await vm.stopped(requesting: true) == .stoppedByOwner)
        #expect(await vm.stopped(requesting: false) == .stoppedByOwner, "already stopped: at once")
        await #expect(throws: VirtualMachineError.self) { try await vm.paused() }
    }

    /// Real mode `cli; hlt`: halted inside KVM (the in-kernel LAPIC), with no interrupt to come.
    static let haltForever: [UInt8] = [0xFA, 0xF4]

    /// A guest halted inside `KVM_RUN` is paused (the kick brings it out; it stays halted, as
    /// the vCPU's MP state read while paused shows), resumed into its halt, and stopped — on its own thread, and
    /// under a shared dispatcher whose slot it holds while halted.
    @Test func pausingAHaltedGuest() throws {
        let dir = try TemporaryDirectory()
        let configuration = try Self.configuration(Self.haltForever, in: dir)
        let manager = try SharedSchedulingTests.manager(slots: 1)
        let scheduled = try manager.add(configuration)
        for vm in [try VirtualMachine(configuration: configuration), scheduled.vm] {
            try vm.start()
            // Paused and resumed until the pause finds it halted (its first slice may not have
            // come yet): every one of those pauses is a pause of a running or halted guest.
            var halted = false
            try waitUntil("a pause to find the guest in its halt") {
                guard (try? vm.pause()) != nil else { return false }
                halted = (try? vm.runners[0].vcpu.mpState()) == .halted
                if !halted { try? vm.resume() }
                return halted
            }
            #expect(vm.state == .paused && halted)
            try vm.resume()
            #expect(vm.state == .running)
            #expect(vm.stop() == .stoppedByOwner)
        }
        try manager.remove(scheduled.id)
    }

    @Test func stopBeforeStartAndStopWhilePaused() throws {
        let dir = try TemporaryDirectory()
        let unstarted = try VirtualMachine(configuration: Self.configuration(Self.spin, in: dir))
        #expect(unstarted.stop() == .stoppedByOwner)
        #expect(throws: VirtualMachineError.self) { try unstarted.start() }
        let paused = try VirtualMachine(configuration: Self.configuration(Self.spin, in: dir, vcpus: 2))
        try paused.start()
        #expect(paused.waitUntilStopped(timeout: 0.05) == nil, "still running")
        try paused.pause()
        #expect(paused.stop() == .stoppedByOwner)
        #expect(paused.runners.allSatisfy { $0.state == .stopped })
    }

    /// The flat-binary start ABI, read back from each vCPU before it runs: RDI its index, RSI and
    /// RDX the first disk's window and GSI, RCX the vCPU count, RSP its own stack.
    @Test func flatBinaryVCPUsStartWithTheABIRegisters() throws {
        let dir = try TemporaryDirectory()
        var configuration = try Self.configuration(Self.spin, in: dir, vcpus: 3, mode: .long)
        configuration.boot = .flatBinary(
            FlatBinaryBoot(path: dir.file("guest.bin"), mode: .long, stackBase: 0x7_0000, stackSize: 0x1000))
        try Self.addDisk(to: &configuration, in: dir)
        let vm = try VirtualMachine(configuration: configuration)
        let placement = try #require(vm.diskPlacements.first)
        for (index, runner) in vm.runners.enumerated() {
            let regs = try runner.vcpu.registers()
            #expect(regs.rdi == UInt64(index) && regs.rcx == 3, "vCPU \(index)")
            #expect(regs.rsi == placement.mmioBase && regs.rdx == UInt64(placement.gsi), "vCPU \(index)")
            #expect(regs.rsp == 0x7_0000 + UInt64(index + 1) * 0x1000 && regs.rip == 0x10_0000, "vCPU \(index)")
        }
    }

    /// A disk is opened and locked for the VM's life: a second VM writing the same image fails
    /// at its disk step, naming it, and releases whatever it had created; once the first VM is
    /// gone, the disk can be used again.
    @Test(.usesKVM(exclusively: true)) func aDiskInUseFailsTheBuildAndReleasesEverything() throws {
        let dir = try TemporaryDirectory()
        var configuration = try Self.configuration(Self.spin, in: dir)
        let disk = try Self.addDisk(to: &configuration, in: dir)
        let before = kvmDescriptorLinks()
        var first: VirtualMachine? = try VirtualMachine(configuration: configuration)
        #expect(first?.diskPlacements.count == 1)
        let holding = kvmDescriptorLinks()
        do {
            _ = try VirtualMachine(configuration: configuration)
            Issue.record("a disk in use was opened twice for writing")
        } catch .build(let step, let why) {
            #expect(step == "disk 0 (\(disk))")
            #expect(why.contains(disk) && why.contains("in use"), "\(why)")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(kvmDescriptorLinks() == holding, "the failed build released what it created")
        first?.stop()
        first = nil
        #expect(kvmDescriptorLinks() == before, "the first VM released everything")
        _ = try VirtualMachine(configuration: configuration)
    }

    /// A Unix-socket console: a client that connects after the guest printed gets the output so
    /// far, then what it types reaches the guest (which echoes each byte plus one) and the
    /// guest's answer reaches it; the socket file goes with the VM.
    @Test func aUnixSocketConsoleReplaysAndCarriesInput() throws {
        let dir = try TemporaryDirectory()
        // Real mode: wait for LSR.DR (0x3fd bit 0), read RBR, add 1, write it back, then power off.
        let echo: [UInt8] = [
            0xBA, 0xFD, 0x03, 0xEC, 0xA8, 0x01, 0x74, 0xF8, 0xBA, 0xF8, 0x03, 0xEC, 0xFE, 0xC0, 0xEE,
        ]
        var configuration = try Self.configuration(Self.greeting + echo + Self.powerOff, in: dir)
        let path = dir.file("console.sock")
        configuration.console = .unixSocket(path: path)
        var vm: VirtualMachine? = try VirtualMachine(configuration: configuration)
        try vm?.start()
        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(client >= 0)
        defer { close(client) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(connected == 0, "connect: errno \(errno)")
        func receive(until expected: String) -> String {
            var text = ""
            var buffer = [UInt8](repeating: 0, count: 256)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)  // a hang guard, not a timing check
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while !text.hasSuffix(expected) {
                let count = read(client, &buffer, buffer.count)
                if count <= 0 { break }
                text += String(decoding: buffer[0..<count], as: UTF8.self)
            }
            return text
        }
        #expect(receive(until: "hi\n") == "hi\n", "the output from before the client came")
        #expect(write(client, "a", 1) == 1)
        #expect(receive(until: "b") == "b", "the guest's echo of the typed byte")
        #expect(vm?.waitUntilStopped() == .poweredOff)
        #expect(FileManager.default.fileExists(atPath: path))
        vm = nil
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file goes with the VM")
    }

    /// Threads of this process (`/proc/self/task`) and its mappings (`/proc/self/maps` lines).
    static func threadsAndMappings() throws -> (threads: Int, mappings: Int) {
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        return (threads, maps.split(separator: "\n").count)
    }

    /// 200 VMs built, run to their power-off and dropped leave no KVM or eventfd descriptor, no
    /// thread and no mapping behind. (Mappings are compared after the first VM: the first use of
    /// KVM and the test's own allocations may map libraries and heap once.)
    @Test(.usesKVM(exclusively: true)) func twoHundredVMsLeakNothing() throws {
        let dir = try TemporaryDirectory()
        let configuration = try Self.configuration(Self.greeting + Self.powerOff, in: dir, vcpus: 2)
        func cycle() throws {
            let vm = try VirtualMachine(configuration: configuration)
            try vm.start()
            #expect(vm.waitUntilStopped() == .poweredOff)
        }
        try cycle()
        let descriptors = kvmDescriptorLinks()
        let (threads, mappings) = try Self.threadsAndMappings()
        for _ in 0..<200 { try cycle() }
        let leak = descriptorLeak(since: descriptors, cycles: 200)
        #expect(leak == nil, "\(leak ?? "")")
        let after = try Self.threadsAndMappings()
        // Swift's cooperative pool starts and ends up to one thread per core on its own; a VM
        // that left its vCPU or helper threads behind would add 3 or more per cycle (600 here).
        let pool = ProcessInfo.processInfo.activeProcessorCount
        #expect(after.threads <= threads + pool, "threads: \(threads) before, \(after.threads) after")
        // The heap may grow by a mapping or two (malloc arenas), never by one per VM.
        #expect(after.mappings <= mappings + 4, "mappings: \(mappings) before, \(after.mappings) after")
    }

    @Test(.usesKVM(exclusively: true)) func anInvalidConfigurationCreatesNothing() throws {
        let dir = try TemporaryDirectory()
        var configuration = try Self.configuration(Self.spin, in: dir)
        configuration.vcpuCount = 0
        configuration.disks = [DiskConfiguration(path: dir.file("missing.raw"))]
        let before = kvmDescriptorLinks()
        do {
            _ = try VirtualMachine(configuration: configuration)
            Issue.record("an invalid configuration was accepted")
        } catch .invalidConfiguration(let error) {
            #expect(
                error.problems == [
                    .vcpuCount(0),
                    .unreadableFile(what: "disk 0", path: dir.file("missing.raw"), reason: "No such file or directory"),
                ])
        } catch {
            Issue.record("unexpected \(error)")
        }
        // Nothing opened (a VM another test was tearing down may have closed its own meanwhile).
        #expect(descriptorGrowth(from: before, to: kvmDescriptorLinks()).isEmpty)
    }
}
