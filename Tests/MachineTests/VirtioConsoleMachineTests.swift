import DeviceModel
import Foundation
import HostSupport
import KVM
import Machine
import Synchronization
import TestSupport
import Testing
import VirtioGuests

/// A VM configured with a virtio console and an entropy device places both, tells a flat
/// binary where the console is (R8/R9), writes the guest's console output where the
/// configuration says and types `virtioConsoleInput` into it: the assembly console driver
/// prints, echoes the line typed and powers off.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct VirtioConsoleMachineTests {
    /// The guest's report port (0x5f0).
    final class Report: PortIODevice {
        let value = Mutex<UInt32?>(nil)
        func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
            for i in data.indices { data[i] = 0 }
        }
        func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
            guard data.count == 4 else { return }
            value.withLock { $0 = UInt32(littleEndian: data.loadUnaligned(as: UInt32.self)) }
        }
    }

    /// A one-vCPU, 4 MiB VM that runs one of the VirtioGuests programs (written to `dir` as
    /// `name`.bin) as a flat binary in long mode, with an entropy device and the given virtio
    /// console and vsock device.
    static func guestConfiguration(
        _ name: String, program: UnsafePointer<UInt8>, size: Int, in dir: TemporaryDirectory,
        virtioConsole: ConsoleConfiguration?, vsock: VsockConfiguration? = nil
    ) throws -> VirtualMachineConfiguration {
        let image = dir.file("\(name).bin")
        try Data(bytes: program, count: size).write(to: URL(fileURLWithPath: image))
        return VirtualMachineConfiguration(
            name: name, vcpuCount: 1, memorySize: 4 << 20,
            boot: .flatBinary(
                FlatBinaryBoot(
                    path: image, loadAddress: UInt64(VIRTIO_CONSOLE_GUEST_LOAD_ADDRESS), mode: .long,
                    stackBase: 0x7_0000)),
            console: .none, virtioConsole: virtioConsole, entropy: EntropyConfiguration(), vsock: vsock)
    }

    func configuration(in dir: TemporaryDirectory, console: ConsoleConfiguration) throws -> VirtualMachineConfiguration
    {
        try Self.guestConfiguration(
            "console", program: virtio_console_guest_bytes(), size: virtio_console_guest_size(), in: dir,
            virtioConsole: console)
    }

    /// Where the test sends the console: a file it reads back, or the VMM's standard output
    /// (through the pipe and thread that keep a slow terminal from blocking anything).
    enum Destination: String, CaseIterable, CustomTestStringConvertible {
        case file, standardOutput
        var testDescription: String { rawValue }
    }

    @Test(arguments: Destination.allCases)
    func theConsoleGuestEchoesALineTypedIntoTheVM(to destination: Destination) throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("hvc0.log")
        let report = Report()
        let vm = try VirtualMachine(
            configuration: try configuration(
                in: dir, console: destination == .file ? .file(path: log) : .standardOutput),
            devices: [.portIO(report, base: 0x5F0, size: 4)])
        let console = try #require(vm.virtioConsolePlacement)
        let entropy = try #require(vm.entropyPlacement)
        #expect(console.gsi != entropy.gsi && console.mmioBase != entropy.mmioBase)
        try #require(vm.virtioConsoleInput).append("typed into the VM\n".utf8)
        try vm.start()
        // Hang guard only: the guest powers off after its report.
        let outcome = vm.waitUntilStopped(timeout: 60)
        if outcome == nil { _ = vm.stop() }
        #expect(outcome == .poweredOff)
        #expect(
            report.value.withLock { $0 } == 0,
            "the guest failed at step \(String(describing: report.value.withLock { $0 }))")
        let expected = "hello from virtio-console\necho: typed into the VM\n"
        if destination == .file { #expect(try String(contentsOfFile: log, encoding: .utf8) == expected) }
        #expect(vm.virtioConsole?.statistics.bytesOutput == UInt64(expected.utf8.count))
        #expect(vm.virtioConsole?.statistics.bytesInput == 18)
    }

    /// Paused while the guest waits for its line (its receive buffer posted), saved, and restored
    /// in a new VM: the line typed into the restored VM reaches the buffer the guest posted
    /// before the snapshot, and the guest finishes as if never interrupted.
    @Test func aRestoredVMsConsoleGoesOnWhereItWas() throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("hvc0.log")
        let configuration = try configuration(in: dir, console: .file(path: log))
        let greeting = "hello from virtio-console\n"
        do {
            let vm = try VirtualMachine(
                configuration: configuration, devices: [.portIO(Report(), base: 0x5F0, size: 4)])
            try vm.start()
            try waitUntil("the greeting") { (try? String(contentsOfFile: log, encoding: .utf8)) == greeting }
            try vm.pause()
            try vm.snapshot(to: dir.file("snapshot"))
            _ = vm.stop()
        }
        let report = Report()
        let vm = try VirtualMachine(restoring: dir.file("snapshot"), devices: [.portIO(report, base: 0x5F0, size: 4)])
        try #require(vm.virtioConsoleInput).append("after the restore\n".utf8)
        try vm.start()
        let outcome = vm.waitUntilStopped(timeout: 60)
        if outcome == nil { _ = vm.stop() }
        #expect(outcome == .poweredOff)
        #expect(report.value.withLock { $0 } == 0)
        #expect(try String(contentsOfFile: log, encoding: .utf8) == greeting + "echo: after the restore\n")
        #expect(vm.entropyPlacement != nil, "the entropy device is rebuilt too")
    }

    @Test func aUnixSocketIsRefusedForTheVirtioConsole() throws {
        let dir = try TemporaryDirectory()
        var bad = try configuration(in: dir, console: .unixSocket(path: dir.file("hvc0.sock")))
        bad.entropy = EntropyConfiguration(maxBytesPerRequest: 0)
        do {
            try bad.validate()
            Issue.record("the configuration was accepted")
        } catch {
            #expect(
                error.problems == [
                    .virtioConsole(
                        "a Unix socket (\(dir.file("hvc0.sock"))) is not supported yet: use a file or standard output"),
                    .entropy("maxBytesPerRequest 0: at least 1"),
                ])
        }
    }
}
