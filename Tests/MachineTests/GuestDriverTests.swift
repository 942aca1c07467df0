import DeviceModel
import Foundation
import KVM
import Machine
import MiniVMMGuest
import Synchronization
import TestSupport
import Testing

/// mini-vmm's guest — a virtio-blk driver on vCPU 0 and compute workers on the others, started
/// with the flat-binary ABI — runs on a VM built from a configuration, with the embedder's report
/// device on the bus: the driver reads the disk's first 4 KiB and reports their FNV-1a and the
/// capacity, each worker its result, all as the host computes them.
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

    @Test func theMiniVMMGuestDrivesADiskOfAConfiguredVM() throws {
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
            disks: [DiskConfiguration(path: disk)], console: .file(path: dir.file("console.log")))
        let reports = Reports()
        let vm = try VirtualMachine(configuration: configuration, devices: [.portIO(reports, base: 0x500, size: 0x20)])
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
        #expect(usage.chainsServed == 4 && usage.notifications >= 1)
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
