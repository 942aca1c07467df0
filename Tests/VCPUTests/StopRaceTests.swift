import DeviceModel
import GuestMemory
import HostSupport
import KVM
import Synchronization
import TestSupport
import Testing

@testable import VCPU

#if canImport(Glibc)
    import Glibc
#endif

extension VCPUTests {
    /// A stop requested from one thread wins over a pause or resume made meanwhile from
    /// another (a scheduler's worker, say): the run ends and `stop()` returns, the vCPU is
    /// never left running or parked while `stop()` waits to join its thread.
    @Suite struct StopRaces {
        /// Holds the vCPU thread inside a port write until released.
        final class HoldingDevice: PortIODevice {
            let state = ConditionLock((entered: false, released: false))
            func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {}
            func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
                state.withLock { $0.entered = true }
                state.wait(until: { $0.released }, then: { _ in })
            }
            func release() { state.withLock { $0.released = true } }
        }

        /// `out 0x20, al; jmp $` in real mode.
        static let outThenSpin: [UInt8] = [0xe6, 0x20, 0xeb, 0xfe]

        @Test func pauseRequestedWhileStopIsPendingIsAbsorbed() throws {
            let machine = try TestVM(ramSize: 0x10000)
            let vcpu = try machine.makeVCPU(id: 0)
            try machine.startRealMode(vcpu, code: Self.outThenSpin)
            let device = HoldingDevice()
            let bus = PortIOBus()
            try bus.insert(device, base: 0x20, size: 1)
            let runner = VCPURunner(vcpu: vcpu, portIO: bus)
            try runner.start()
            // The vCPU thread is inside the OUT exit: running, but not in the guest.
            try waitUntil("the guest's OUT") { device.state.withLock { $0.entered } }

            let stopped = Mutex<VCPUOutcome?>(nil)
            let stopper = try HostThread.spawn { stopped.withLock { $0 = runner.stop() } }
            try waitUntil("stop() to record its request") { runner.control.withLock { $0.request == .stop } }
            // The state is still `running`: a pause is a valid action, and must not replace the stop.
            try runner.requestPause()
            #expect(runner.control.withLock { $0.request } == .stop)
            device.release()

            try waitUntil("stop() to return") { stopped.withLock { $0 } != nil }
            stopper.join()
            #expect(stopped.withLock { $0 } == .stoppedByOwner)
            #expect(runner.state == .stopped)
            // Nothing is left to pause or resume.
            #expect(throws: VCPUError.invalidTransition(from: .stopped, action: .resume)) { try runner.resume() }
        }

        /// The race as a scheduler meets it, with no control over the interleaving: one thread
        /// pauses and resumes the vCPU as fast as it can while another stops it at a random
        /// moment. Every stop must return (a lost stop hangs here and fails on the bound).
        @Test func stopAmidPauseAndResumeCyclesAlwaysEnds() throws {
            let machine = try TestVM(ramSize: 0x10000)
            try machine.memory.write(contentsOf: Guest.spin, at: GuestAddress(0x1000))
            var generator = SeededGenerator(seed: 17)
            for round in 0..<100 {
                let vcpu = try machine.makeVCPU(id: UInt64(round))
                try X86Setup.configureRealMode(vcpu, ip: 0x1000)
                let runner = VCPURunner(vcpu: vcpu)
                try runner.start()
                let cycles = Atomic<Int>(0)
                let cycler = try HostThread.spawn {
                    while runner.state != .stopped {
                        // Either may meet a stop in flight: an invalid transition is expected then.
                        do throws(VCPUError) {
                            try runner.pause()
                            try runner.resume()
                        } catch {}
                        cycles.add(1, ordering: .relaxed)
                    }
                }
                try waitUntil("round \(round): the first pause/resume cycles", interval: 0) {
                    cycles.load(ordering: .relaxed) > 0
                }
                usleep(UInt32.random(in: 0..<2000, using: &generator))
                let stopped = Mutex<VCPUOutcome?>(nil)
                let stopper = try HostThread.spawn { stopped.withLock { $0 = runner.stop() } }
                try waitUntil("round \(round): stop() to return") { stopped.withLock { $0 } != nil }
                stopper.join()
                cycler.join()
                #expect(stopped.withLock { $0 } == .stoppedByOwner, "round \(round)")
            }
        }
    }
}
