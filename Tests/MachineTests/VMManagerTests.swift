import Foundation
import HostPlacement
import KVM
import Machine
import TestSupport
import Testing

/// The manager admits each VM against the host's vCPUs, memory and storage before building it,
/// refuses one that does not fit naming the short resource, admits it once another is removed,
/// returns exactly what a removed or failed VM held, reports R_i / T_i / H_i per VM and in total,
/// and a VM that crashes ends alone: the others keep running.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct VMManagerTests {
    static func host(vcpus: UInt64 = 4, memory: UInt64 = 64 << 20, storage: UInt64 = 1 << 30) throws -> VMManager {
        VMManager(host: try HostResources(capacity: [.vcpus: vcpus, .memory: memory, .storage: storage]))
    }

    static func configuration(
        _ name: String, _ code: [UInt8], in dir: TemporaryDirectory, vcpus: Int = 2, mode: FlatBinaryBoot.Mode = .real
    ) throws -> VirtualMachineConfiguration {
        var c = try VirtualMachineTests.configuration(code, in: dir, vcpus: vcpus, mode: mode)
        c.name = name
        c.console = .none
        return c
    }

    @Test func aVMThatDoesNotFitIsRefusedUntilAnotherLeaves() throws {
        let dir = try TemporaryDirectory()
        let manager = try Self.host()
        let a = try manager.add(Self.configuration("a", VirtualMachineTests.spin, in: dir))
        _ = try manager.add(Self.configuration("b", VirtualMachineTests.spin, in: dir))
        #expect(manager.host.used == [.vcpus: 4, .memory: 32 << 20, .storage: 0])
        let third = try Self.configuration("c", VirtualMachineTests.spin, in: dir)
        do throws(VMManagerError) {
            _ = try manager.add(third)
            Issue.record("a VM beyond the host's vCPUs was admitted")
        } catch .admission(let name, let error) {
            #expect(name == "c" && error == .insufficient(resource: .vcpus, requested: 2, available: 0))
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(manager.machines.map(\.name) == ["a", "b"], "nothing of c was kept")
        #expect(try manager.remove(a.id) == .stoppedByOwner)
        let c = try manager.add(third)
        #expect(manager.machines.map(\.name) == ["b", "c"])
        #expect(c.id == 3, "ids are never reused, and a refused VM takes none")
        for vm in manager.machines { try manager.remove(vm.id) }
        #expect(manager.host.used == [.vcpus: 0, .memory: 0, .storage: 0])
        #expect(throws: VMManagerError.self) { try manager.remove(a.id) }
    }

    @Test func storageIsAdmittedByTheDisksCapacity() throws {
        let dir = try TemporaryDirectory()
        let manager = try Self.host(storage: 12 << 20)
        var disks: [String] = []
        for i in 0..<2 {
            disks.append(dir.file("disk\(i).raw"))
            try Data(count: 8 << 20).write(to: URL(fileURLWithPath: disks[i]))
        }
        var first = try Self.configuration("first", VirtualMachineTests.spin, in: dir, vcpus: 1)
        first.disks = [DiskConfiguration(path: disks[0])]
        // (Only ids are kept: a VM's disks close when the last reference to it goes.)
        let admitted = try manager.add(first).id
        #expect(manager.machines.first?.resources == [.vcpus: 1, .memory: 16 << 20, .storage: 8 << 20])
        var second = try Self.configuration("second", VirtualMachineTests.spin, in: dir, vcpus: 1)
        second.disks = [DiskConfiguration(path: disks[1])]
        #expect(throws: VMManagerError.self) { try manager.add(second) }
        do throws(VMManagerError) {
            _ = try manager.add(second)
        } catch .admission(_, let error) {
            #expect(error == .insufficient(resource: .storage, requested: 8 << 20, available: 4 << 20))
        } catch {
            Issue.record("unexpected \(error)")
        }
        // A build that fails (the first VM's disk is locked by it) returns its admission.
        var clash = try Self.configuration("clash", VirtualMachineTests.spin, in: dir, vcpus: 1)
        clash.disks = [DiskConfiguration(path: disks[0])]
        try manager.remove(admitted)
        #expect(manager.host.used == [.vcpus: 0, .memory: 0, .storage: 0])
        let roomy = try Self.host()
        let holder = try roomy.add(first).id
        let used = roomy.host.used
        do throws(VMManagerError) {
            _ = try roomy.add(clash)
            Issue.record("a locked disk was opened twice")
        } catch .build(.build(let step, _)) {
            #expect(step == "disk 0 (\(disks[0]))")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(roomy.host.used == used, "the failed build's admission was released")
        try roomy.remove(holder)
    }

    @Test func theReportGivesRTAndHPerVM() throws {
        let dir = try TemporaryDirectory()
        let manager = try Self.host()
        let vm = try manager.add(Self.configuration("spinner", VirtualMachineTests.spin, in: dir))
        try vm.vm.start()
        // Both vCPU threads up, and a spinning vCPU accrues CPU time: wait until the kernel has
        // counted some (bounded).
        try waitUntil("both vCPU threads run") {
            manager.report().vms.first.map { $0.vcpuThreads.count == 2 && $0.cpuNanoseconds > 0 } == true
        }
        let report = manager.report()
        let figures = try #require(report.vms.first)
        #expect(figures.name == "spinner" && figures.state == .running)
        #expect(figures.resources == [.vcpus: 2, .memory: 16 << 20, .storage: 0], "R_i")
        #expect(figures.vcpuThreads.count == 2 && figures.guestMemoryBytes == 16 << 20 && figures.devices == 5, "H_i")
        #expect(figures.totalNanoseconds == figures.cpuNanoseconds + figures.ioNanoseconds + figures.waitNanoseconds)
        #expect(report.used == [.vcpus: 2, .memory: 16 << 20, .storage: 0])
        #expect(report.description.contains("spinner running: R = 2 vCPU + 16 MiB + 0 MiB disk"), "\(report)")
        try manager.remove(vm.id)
    }

    /// Long mode: `mov rax, 0xe0000000; jmp rax` — into the MMIO hole, where there is no memory to
    /// fetch from: KVM cannot run it.
    static let jumpIntoTheHole: [UInt8] = [0x48, 0xB8, 0x00, 0x00, 0x00, 0xE0, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xE0]

    /// Adds a one-vCPU VM that jumps into the MMIO hole, starts it with `healthy`, and returns it
    /// with its outcome once it ended — checked to be a KVM internal error at 0xE0000000 (`nil`
    /// otherwise, with the issue recorded).
    static func startWithACrashingVM(
        _ healthy: [ManagedVM], on manager: VMManager, in dir: TemporaryDirectory
    ) throws -> (vm: ManagedVM, outcome: VirtualMachineOutcome)? {
        let crashing = try manager.add(
            configuration("crash", jumpIntoTheHole, in: dir, vcpus: 1, mode: .long))
        for managed in healthy + [crashing] { try managed.vm.start() }
        let outcome = crashing.vm.waitUntilStopped()
        guard case .internalError(vcpu: 0, _, let rip, _) = outcome else {
            Issue.record("expected a KVM internal error, got \(outcome)")
            return nil
        }
        #expect(rip == 0xE000_0000)
        return (crashing, outcome)
    }

    @Test func aCrashedVMEndsAloneAndIsRemoved() throws {
        let dir = try TemporaryDirectory()
        let manager = try Self.host(vcpus: 8, memory: 256 << 20)
        let healthy = try (0..<2).map {
            try manager.add(Self.configuration("ok\($0)", VirtualMachineTests.spin, in: dir))
        }
        guard let (crashing, outcome) = try Self.startWithACrashingVM(healthy, on: manager, in: dir) else { return }
        #expect(healthy.allSatisfy { $0.vm.state == .running }, "the others keep running")
        #expect(try manager.remove(crashing.id) == outcome)
        #expect(healthy.allSatisfy { $0.vm.state == .running })
        #expect(manager.host.used == [.vcpus: 4, .memory: 32 << 20, .storage: 0])
        for managed in healthy { #expect(try manager.remove(managed.id) == .stoppedByOwner) }
    }
}
