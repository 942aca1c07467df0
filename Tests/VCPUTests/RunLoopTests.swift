import DeviceModel
import GuestMemory
import KVM
import Synchronization
import TestSupport
import Testing
import VCPU

extension VCPUTests {
    @Suite struct RunLoop {
        @Test func longModeGuestThroughTheRunLoop() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.startLongMode(vcpu, code: Guest.apicSum)
            let recorder = RecorderDevice()
            let bus = PortIOBus()
            try bus.insert(recorder, base: 0x20, size: 4)
            let runner = VCPURunner(vcpu: vcpu, portIO: bus)
            try runner.start()
            #expect(runner.waitUntilStopped() == .halted)
            #expect(recorder.recorded == [triangle(100)])
            #expect(runner.statistics.count(.ioOut) == 1)
            #expect(runner.statistics.count(.hlt) == 1)
            #expect(try vcpu.specialRegisters().efer & 0x400 != 0, "long mode active")
        }

        @Test(arguments: [2, 4]) func everyVCPUReportsItsAPICIDAndResult(_ count: Int) throws {
            let machine = try TestVM()
            try machine.memory.write(contentsOf: Guest.apicSum, at: GuestAddress(0x10000))
            let recorder = RecorderDevice()
            let bus = PortIOBus()
            try bus.insert(recorder, base: 0x20, size: 4)
            var runners: [VCPURunner<KVMVirtualCPU>] = []
            for id in 0..<count {
                let vcpu = try machine.makeVCPU(id: UInt64(id), count: count)
                try X86Setup.configureLongMode(vcpu, memory: machine.memory, entry: 0x10000)
                runners.append(VCPURunner(vcpu: vcpu, portIO: bus))
            }
            for runner in runners { try runner.start() }
            for runner in runners { #expect(runner.waitUntilStopped() == .halted) }
            let expected = (0..<count).map { UInt32($0) << 24 | triangle(100 + UInt32($0)) }
            #expect(recorder.recorded.sorted() == expected)
        }

        @Test func mmioDeviceRoundTrip() throws {
            final class Register: MMIODevice {
                let stored = Mutex<UInt32>(0)
                func read(address: UInt64, offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
                    let value = offset == 4 ? stored.withLock { $0 } &+ 1 : 0
                    for i in data.indices { data[i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
                }
                func write(address: UInt64, offset: UInt64, from data: UnsafeRawBufferPointer) {
                    guard offset == 0 else { return }
                    var value: UInt32 = 0
                    for (i, byte) in data.enumerated() { value |= UInt32(byte) << (8 * i) }
                    stored.withLock { $0 = value }
                }
            }
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.startLongMode(vcpu, code: Guest.mmioRoundTrip)
            let device = Register()
            let mmio = MMIOBus()
            try mmio.insert(device, base: 0x1000_0000, size: 0x1000)
            let recorder = RecorderDevice()
            let pio = PortIOBus()
            try pio.insert(recorder, base: 0x20, size: 4)
            let runner = VCPURunner(vcpu: vcpu, portIO: pio, mmio: mmio)
            try runner.start()
            #expect(runner.waitUntilStopped() == .halted)
            #expect(device.stored.withLock { $0 } == 0x1122_3344)
            #expect(recorder.recorded == [0x1122_3345])
            #expect(runner.statistics.count(.mmioWrite) == 1 && runner.statistics.count(.mmioRead) == 1)
        }

        @Test func serialOutputIsCaptured() throws {
            let machine = try TestVM(ramSize: 0x10000)
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.memory.write(contentsOf: Guest.serialPrint, at: GuestAddress(0x1000))
            try machine.memory.write(contentsOf: Array("Hello, UART\n".utf8) + [0], at: GuestAddress(0x1100))
            try X86Setup.configureRealMode(vcpu, ip: 0x1000)
            let capture = SerialCapture()
            let serial = Serial16550(output: capture.sink)
            let bus = PortIOBus()
            try bus.insert(serial, base: 0x3f8, size: 8)
            let runner = VCPURunner(vcpu: vcpu, portIO: bus)
            try runner.start()
            #expect(runner.waitUntilStopped() == .halted)
            #expect(capture.text == "Hello, UART\n")
            #expect(serial.transmittedCount == 12)
        }

        @Test func tripleFaultEndsWithShutdown() throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.startLongMode(vcpu, code: Guest.tripleFault)
            let runner = VCPURunner(vcpu: vcpu)
            try runner.start()
            #expect(runner.waitUntilStopped() == .shutdown)
        }

        @Test func asyncStoppedReportsTheOutcome() async throws {
            let machine = try TestVM()
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.startLongMode(vcpu, code: Guest.apicSum)
            let runner = VCPURunner(vcpu: vcpu)
            try runner.start()
            #expect(await runner.stopped() == .halted)
            // Ports nobody claimed: the OUT to 0x20.
            #expect(runner.unclaimedAccesses == 1)
        }
    }
}
