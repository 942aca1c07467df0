import DeviceModel
import Foundation
import GuestMemory
import HostSupport
import KVM
import Synchronization
import TestSupport
import Testing
import VCPU

/// A pause that arrives while the vCPU thread is inside an MMIO read (the device has not
/// answered yet) waits for the answer and completes the load before the vCPU parks: the state a
/// paused vCPU shows (and a snapshot saves) holds the value read and the instruction retired.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct PauseWithPendingIOTests {
    /// A device whose reads wait until the test releases them, then return `value`.
    final class SlowDevice: MMIODevice {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let value: UInt32

        init(value: UInt32) { self.value = value }

        func read(address: UInt64, offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
            entered.signal()
            release.wait()
            withUnsafeBytes(of: value.littleEndian) { bytes in
                for i in data.indices { data[i] = i < bytes.count ? bytes[i] : 0 }
            }
        }

        func write(address: UInt64, offset: UInt64, from data: UnsafeRawBufferPointer) {}
    }

    @Test func aPauseDuringAnMMIOReadCompletesTheLoadFirst() throws {
        let machine = try TestVM(ramSize: 0x8000)
        // mov eax, [0x9000]; 1: jmp 1b   (real mode, 0x9000 is past the RAM: MMIO)
        try machine.memory.write(contentsOf: [0x66, 0xA1, 0x00, 0x90, 0xEB, 0xFE], at: GuestAddress(0x1000))
        let vcpu = try machine.makeVCPU(id: 0)
        try X86Setup.configureRealMode(vcpu, ip: 0x1000)
        let device = SlowDevice(value: 0x1234_5678)
        let bus = MMIOBus()
        try bus.insert(device, base: 0x9000, size: 0x1000)
        let runner = VCPURunner(vcpu: vcpu, mmio: bus)
        try runner.start()
        // Bounded waits: hang guards, not timing checks.
        try #require(device.entered.wait(timeout: .now() + 30) == .success, "the guest never read the device")
        let paused = DispatchSemaphore(value: 0)
        let pauser = UnsafeTransfer(runner)
        DispatchQueue.global().async {
            try? pauser.value.pause()
            paused.signal()
        }
        // The pause cannot finish while the device has not answered …
        #expect(paused.wait(timeout: .now() + 0.2) == .timedOut, "paused inside an unanswered MMIO read")
        device.release.signal()
        // … and does once it has.
        try #require(paused.wait(timeout: .now() + 30) == .success, "the pause never completed")
        #expect(runner.state == .paused)
        let registers = try vcpu.registers()
        #expect(registers.rax & 0xFFFF_FFFF == 0x1234_5678, "the load completed before the vCPU parked")
        #expect([0x1004, 0x1006].contains(registers.rip), "past the load: rip 0x\(String(registers.rip, radix: 16))")
        #expect(runner.stop() == .stoppedByOwner)
    }
}

/// Hands a reference to a closure on another thread while this one waits for it.
struct UnsafeTransfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
