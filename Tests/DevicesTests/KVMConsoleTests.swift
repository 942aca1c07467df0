import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import ResourceAllocator
import Synchronization
import TestSupport
import Testing
import VCPU
import VirtioGuests

/// Real KVM: a guest driver (assembly, `Examples/VirtioGuests/console_guest.S`) sets up
/// virtio-console over MMIO, prints through `transmitq0`, reads a line the host typed through
/// `receiveq0` and echoes it — the notifications through the ioeventfd, the device on an event
/// loop — and the host sees exactly that output.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct KVMConsoleTests {
    /// Runs the console guest with `input` typed (before the guest starts, or while it runs);
    /// returns (the guest's report on port 0x5f0, the console output).
    func run(typing input: [UInt8], early: Bool) throws -> (report: UInt32?, output: [UInt8]) {
        let output = try ConsoleOutputBuffer()
        let typed = try ConsoleInputBuffer()
        let console = try VirtioConsoleDevice(output: output, input: typed)
        let fixture = try KVMVirtioFixture(backend: console, interrupt: try EventFD(), loopName: "kvm-console-test")
        if early { typed.append(input) }
        let report = Mutex<UInt32?>(nil)
        let runner = try fixture.startGuest(
            UnsafeRawBufferPointer(start: virtio_console_guest_bytes(), count: virtio_console_guest_size()),
            at: UInt64(VIRTIO_CONSOLE_GUEST_LOAD_ADDRESS), baseIn: \.r8
        ) { value in report.withLock { $0 = value } }
        // Typed while the guest runs: it waits in its receive loop (or has not got there yet).
        if !early {
            try waitUntil("the greeting") { output.contents.count >= 26 || report.withLock { $0 } != nil }
            typed.append(input)
        }
        // Hang guard only (the guest is emulated at ~1 M instructions/s here): it reports, then halts.
        let deadline = Date().addingTimeInterval(60)
        while report.withLock({ $0 }) == nil && Date() < deadline && runner.state == .running { usleep(1000) }
        _ = runner.stop()
        withExtendedLifetime(fixture) {}  // the loop served the device until here
        return (report.withLock { $0 }, output.contents)
    }

    @Test(arguments: [true, false])
    func theGuestPrintsAndEchoesALine(typedBeforeItStarts early: Bool) throws {
        // The line arrives in pieces smaller than the guest's 64-byte receive buffer and larger.
        let line = Array("ping, and a line longer than one receive buffer of sixty-four bytes\n".utf8)
        let (report, output) = try run(typing: line, early: early)
        #expect(report == 0, "the guest failed at step \(report.map(String.init) ?? "none (no report)")")
        #expect(
            String(decoding: output, as: UTF8.self) == "hello from virtio-console\necho: "
                + String(decoding: line, as: UTF8.self))
    }
}

/// A 4-byte write-only port that hands each value written to it to `report`.
final class ReportPort: PortIODevice {
    let report: @Sendable (UInt32) -> Void
    init(_ report: @escaping @Sendable (UInt32) -> Void) { self.report = report }
    func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
    }
    func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        guard data.count == 4 else { return }
        report(UInt32(littleEndian: data.loadUnaligned(as: UInt32.self)))
    }
}
