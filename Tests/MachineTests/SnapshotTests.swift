import Foundation
import KVM
import Machine
import TestSupport
import Testing

/// A VM paused, saved with `snapshot(to:)` and stopped, then rebuilt with
/// `VirtualMachine(restoring:)` in its place, prints exactly what one uninterrupted run prints;
/// a snapshot never replaces an existing directory, needs a paused VM, leaves nothing behind
/// when it fails, and a restore refuses a disk that changed since and a damaged state file.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct SnapshotTests {
    /// Real mode: vCPUs other than 0 (DI = index) spin; vCPU 0 prints '0' to '9', each after a
    /// 64k-iteration delay loop (tens of ms here: room to pause mid-way), a newline, then powers off.
    static let counter: [UInt8] =
        [
            0x85, 0xFF, 0x74, 0x02, 0xEB, 0xFE,  // test di, di; jz 1f; jmp $; 1:
            0xB3, 0x30,  // mov bl, '0'
            0xB9, 0xFF, 0xFF,  // 1: mov cx, 0xffff
            0xE2, 0xFE,  // 2: loop 2b
            0xBA, 0xF8, 0x03,  // mov dx, 0x3f8
            0x88, 0xD8,  // mov al, bl
            0xEE,  // out dx, al
            0xFE, 0xC3,  // inc bl
            0x80, 0xFB, 0x3A,  // cmp bl, '9' + 1
            0x75, 0xEE,  // jne 1b
            0xB0, 0x0A, 0xEE,  // mov al, 10; out dx, al
        ] + VirtualMachineTests.powerOff

    static func console(_ dir: TemporaryDirectory) -> String {
        (try? String(contentsOfFile: dir.file("console.log"), encoding: .utf8)) ?? ""
    }

    @Test func aRestoredVMContinuesWhereItWasPaused() throws {
        let dir = try TemporaryDirectory()
        var configuration = try VirtualMachineTests.configuration(Self.counter, in: dir, vcpus: 2)
        try VirtualMachineTests.addDisk(to: &configuration, in: dir)
        let snapshot = dir.file("snapshot")
        do {
            let vm = try VirtualMachine(configuration: configuration)
            #expect(throws: VirtualMachineError.self) { try vm.snapshot(to: snapshot) }
            try vm.start()
            try waitUntil("three digits printed") { Self.console(dir).count >= 3 }
            try vm.pause()
            try vm.snapshot(to: snapshot)
            #expect(throws: VirtualMachineError.self) { try vm.snapshot(to: snapshot) }
            #expect(vm.stop() == .stoppedByOwner)
        }
        let printed = Self.console(dir)
        #expect(printed.count >= 3 && printed.count < 11, "paused mid-way: \(printed)")
        let files = try FileManager.default.contentsOfDirectory(atPath: snapshot).sorted()
        #expect(files == [VirtualMachineSnapshot.stateFile, VirtualMachineSnapshot.memoryFile].sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains("partial") })

        let restored = try VirtualMachine(restoring: snapshot)
        #expect(restored.state == .created)
        try restored.start()
        #expect(restored.waitUntilStopped() == .poweredOff)
        #expect(Self.console(dir) == "0123456789\n", "the same output as one uninterrupted run")
    }

    @Test func aRestoreRefusesAChangedDiskAndADamagedState() throws {
        let dir = try TemporaryDirectory()
        var configuration = try VirtualMachineTests.configuration(VirtualMachineTests.spin, in: dir)
        let disk = try VirtualMachineTests.addDisk(to: &configuration, in: dir)
        let snapshot = dir.file("snapshot")
        do {
            let vm = try VirtualMachine(configuration: configuration)
            try vm.start()
            try vm.pause()
            try vm.snapshot(to: snapshot)
            vm.stop()
        }
        // A damaged state file: a clear error, no VM.
        let state = URL(fileURLWithPath: snapshot).appendingPathComponent(VirtualMachineSnapshot.stateFile)
        let good = try Data(contentsOf: state)
        try Data(good.prefix(good.count / 2)).write(to: state)
        #expect(throws: VirtualMachineError.self) { _ = try VirtualMachine(restoring: snapshot) }
        try good.write(to: state)
        // The disk written since: refused, naming it.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: disk))
        try handle.write(contentsOf: Data([1]))
        try handle.close()
        do {
            _ = try VirtualMachine(restoring: snapshot)
            Issue.record("a changed disk was accepted")
        } catch .snapshot(let why) {
            #expect(why == "disk \(disk) changed since the snapshot (size or modification time)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
