import DeviceModel
import Foundation
import GuestMemory
import KVM
import Synchronization
import TestSupport
import Testing
import VCPU

extension VCPUTests {
    /// The guest folds 20 values read from port 0x30 into an accumulator and reports it on port
    /// 0x31 after each one. The device's answers are a pure function of how many it gave, so
    /// the final accumulator is the same however the run is cut, saved and resumed — if the
    /// saved state is complete and consistent.
    @Suite struct Snapshot {
        final class ChainDevice: PortIODevice {
            let served = Mutex<UInt32>(0)
            let outputs = Mutex<[UInt32]>([])
            let onServe: @Sendable (UInt32) -> Void

            init(alreadyServed: UInt32 = 0, onServe: @escaping @Sendable (UInt32) -> Void = { _ in }) {
                served.withLock { $0 = alreadyServed }
                self.onServe = onServe
            }

            func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
                let n = served.withLock { n -> UInt32 in
                    n += 1
                    return n
                }
                let value = n &* 7 &+ 3
                for i in data.indices { data[i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
                onServe(n)
            }

            func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
                var value: UInt32 = 0
                for (i, byte) in data.prefix(4).enumerated() { value |= UInt32(byte) << (8 * i) }
                outputs.withLock { $0.append(value) }
            }
        }

        func runner(_ vcpu: KVMVirtualCPU, _ device: ChainDevice) throws -> VCPURunner<KVMVirtualCPU> {
            let bus = PortIOBus()
            try bus.insert(device, base: 0x30, size: 2)
            return VCPURunner(vcpu: vcpu, portIO: bus)
        }

        @Test(arguments: [1, 8, 19]) func saveMidRunRestoreAndContinue(_ cutAfter: UInt32) throws {
            // The uninterrupted reference run.
            let reference = try TestVM()
            let referenceVCPU = try reference.makeVCPU(id: 0)
            try reference.startLongMode(referenceVCPU, code: Guest.inOutChain)
            let referenceDevice = ChainDevice()
            let referenceRunner = try runner(referenceVCPU, referenceDevice)
            try referenceRunner.start()
            #expect(referenceRunner.waitUntilStopped() == .halted)
            let expected = try #require(referenceDevice.outputs.withLock { $0.last })
            #expect(referenceDevice.outputs.withLock { $0.count } == 20)

            // The same guest, paused right after the device answered IN number `cutAfter`: the
            // IN is still pending in kvm_run when the pause is requested.
            let first = try TestVM()
            let firstVCPU = try first.makeVCPU(id: 0)
            try first.startLongMode(firstVCPU, code: Guest.inOutChain)
            let pauser = Mutex<VCPURunner<KVMVirtualCPU>?>(nil)
            let firstDevice = ChainDevice { n in
                if n == cutAfter { try? pauser.withLock { $0 }?.requestPause() }
            }
            let firstRunner = try runner(firstVCPU, firstDevice)
            pauser.withLock { $0 = firstRunner }
            try firstRunner.start()
            firstRunner.waitWhileRunning()
            #expect(firstRunner.state == .paused)
            let snapshot = try VCPUStateSnapshot.capture(
                from: firstVCPU, msrIndices: try first.kvm.msrIndexList(), hasLAPIC: false)
            let memoryImage = try first.memory.readBytes(count: Int(first.ram.size), at: GuestAddress(0))
            let served = firstDevice.served.withLock { $0 }
            #expect(firstRunner.stop() == .stoppedByOwner)
            #expect(served == cutAfter)

            // The snapshot survives encoding.
            let decoded = try roundTripThroughJSON(snapshot)
            #expect(decoded == snapshot)

            // A new VM and vCPU with the same memory continue from the snapshot.
            let second = try TestVM()
            try second.memory.write(contentsOf: memoryImage, at: GuestAddress(0))
            let secondVCPU = try second.vm.createVCPU(id: 0)
            try decoded.restore(into: secondVCPU)
            let secondDevice = ChainDevice(alreadyServed: served)
            let secondRunner = try runner(secondVCPU, secondDevice)
            try secondRunner.start()
            #expect(secondRunner.waitUntilStopped() == .halted)
            #expect(secondDevice.outputs.withLock { $0.last } == expected)
            #expect(firstDevice.outputs.withLock { $0.count } + secondDevice.outputs.withLock { $0.count } == 20)
        }
    }
}

/// Encodes the snapshot to JSON and decodes it again.
func roundTripThroughJSON(_ snapshot: VCPUStateSnapshot) throws -> VCPUStateSnapshot {
    try JSONDecoder().decode(VCPUStateSnapshot.self, from: JSONEncoder().encode(snapshot))
}
