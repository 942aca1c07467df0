import DeviceModel
import Foundation
import HostSupport
import KVM
import Machine
import MiniVMMGuest
import Synchronization
import TestSupport
import Testing

/// mini-vmm's guest — a virtio-blk driver on vCPU 0 and compute workers on the others, started
/// with the flat-binary ABI — runs on a VM built from a configuration, with the embedder's report
/// device on the bus: the driver reads the disk's first 4 KiB and reports their FNV-1a and the
/// capacity, each worker its result, all as the host computes them — whichever way the disk is
/// served: on the VM's loop with or without polling, on a loop per device, on a loop the
/// embedder shares, or inline on the vCPU.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct GuestDriverTests {
    /// The guest's report port (0x500): done, checksum, capacity, worker results.
    final class Reports: PortIODevice {
        let values = Mutex<[UInt16: [UInt32]]>([:])
        func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
            for i in data.indices { data[i] = 0 }
        }
        func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
            let value = data.prefix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
            values.withLock { $0[offset, default: []].append(value) }
        }
        subscript(offset: UInt16) -> [UInt32] { values.withLock { $0[offset] ?? [] } }
    }

    /// FNV-1a (32-bit), as the guest computes it.
    static func fnv1a(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(UInt32(0x811c_9dc5)) { ($0 ^ UInt32($1)) &* 0x0100_0193 }
    }

    /// A worker's result: `index << 24 | (Σ k², k = 1 … 2000 + 100·index) mod 2^24` (guest.S).
    static func workerResult(_ index: UInt32) -> UInt32 {
        var sum: UInt32 = 0
        for k in 1...(2000 + 100 * index) { sum &+= k &* k }
        return index << 24 | (sum & 0xff_ffff)
    }

    /// The ways of serving the disk the test runs under.
    enum Service: String, CaseIterable, CustomTestStringConvertible {
        case loop, adaptivePolling, fixedPolling, loopPerDevice, sharedLoop, inline
        var testDescription: String { rawValue }
        var configuration: DeviceServiceConfiguration {
            switch self {
            case .loop: DeviceServiceConfiguration(polling: .off)
            case .adaptivePolling, .sharedLoop: DeviceServiceConfiguration()
            case .fixedPolling: DeviceServiceConfiguration(polling: .fixed(nanoseconds: 200_000))
            case .loopPerDevice: DeviceServiceConfiguration(loop: .perDevice)
            case .inline: DeviceServiceConfiguration(queues: .inline)
            }
        }
    }

    @Test(arguments: Service.allCases) func theMiniVMMGuestDrivesADiskOfAConfiguredVM(service: Service) throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("guest.bin")
        try Data(bytes: mini_vmm_guest_bytes(), count: mini_vmm_guest_size()).write(to: URL(fileURLWithPath: image))
        var generator = SeededGenerator(seed: 17)
        let contents = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let disk = dir.file("disk.raw")
        try Data(contents).write(to: URL(fileURLWithPath: disk))
        let configuration = VirtualMachineConfiguration(
            name: "driver", vcpuCount: 3, memorySize: 16 << 20,
            boot: .flatBinary(
                FlatBinaryBoot(
                    path: image, loadAddress: UInt64(MINI_VMM_GUEST_LOAD_ADDRESS), mode: .long, stackBase: 0x7_0000)),
            disks: [DiskConfiguration(path: disk)], console: .file(path: dir.file("console.log")),
            deviceService: service.configuration)
        let reports = Reports()
        let shared = service == .sharedLoop ? try EventLoop(name: "shared") : nil
        try shared?.start()
        defer { shared?.stop() }
        let vm = try VirtualMachine(
            configuration: configuration, devices: [.portIO(reports, base: 0x500, size: 0x20)], eventLoop: shared)
        try vm.start()
        try waitUntil("the driver and both workers reported") { !reports[0].isEmpty && reports[0x10].count == 2 }
        #expect(vm.stop() == .stoppedByOwner)
        #expect(reports[0] == [0], "done: success")
        #expect(reports[4] == [Self.fnv1a(Array(contents[0..<4096]))], "checksum of sectors 0-7")
        #expect(reports[8] == [UInt32((1 << 20) / 512)], "capacity in sectors")
        #expect(Set(reports[0x10]) == [Self.workerResult(1), Self.workerResult(2)])
        // The driver's requests, as the VM counts them: read 0-7, write 8, read 8, flush.
        let usage = try #require(vm.diskUsage.first)
        #expect(usage.path == disk)
        #expect(usage.requests.byType[.read] == 2 && usage.requests.byType[.write] == 1)
        #expect(usage.requests.byType[.flush] == 1 && usage.requests.failed == 0)
        #expect(usage.chainsServed == 4 && usage.batches == 4 && usage.interrupts == 4, "one request at a time")
        let loops = vm.eventLoopStatistics
        switch service {
        case .inline:
            #expect(loops.isEmpty && usage.notifications == 4, "every notify served in its exit")
        case .loop:
            #expect(loops.count == 1 && usage.notifications >= 1 && loops[0].pollingNanoseconds == 0)
        case .fixedPolling:
            #expect(loops.count == 1 && loops[0].pollHits + loops[0].pollMisses > 0 && loops[0].pollingNanoseconds > 0)
        case .adaptivePolling, .loopPerDevice:
            #expect(loops.count == 1 && loops[0].dispatched >= 1)
        case .sharedLoop:
            let loop = try #require(shared)
            #expect(loops == [loop.statistics] && loop.dispatched >= 1, "the embedder's loop served it")
        }
    }

    @Test func anOverlappingDeviceFailsTheBuild() throws {
        let dir = try TemporaryDirectory()
        let configuration = try VirtualMachineTests.configuration(VirtualMachineTests.spin, in: dir)
        do {
            _ = try VirtualMachine(configuration: configuration, devices: [.portIO(Reports(), base: 0x3F8, size: 8)])
            Issue.record("a device on COM1's ports was accepted")
        } catch .build(let step, _) {
            #expect(step == "devices")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
