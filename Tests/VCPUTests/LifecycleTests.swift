import DeviceModel
import GuestMemory
import HostSupport
import KVM
import Synchronization
import TestSupport
import Testing
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

extension VCPUTests {
    @Suite struct Lifecycle {
        /// A vCPU spinning in real mode (`jmp $`): it never exits on its own.
        func spinningRunner(_ machine: TestVM, id: UInt64 = 0) throws -> VCPURunner<KVMVirtualCPU> {
            let vcpu = try machine.makeVCPU(id: id)
            try machine.startRealMode(vcpu, code: Guest.spin)
            return VCPURunner(vcpu: vcpu)
        }

        /// `inc dword [0x2000]; jmp 0x1000`: a loop whose progress shows in memory.
        static let counting: [UInt8] = [0x66, 0xFF, 0x06, 0x00, 0x20, 0xEB, 0xF9]

        @Test func thousandPauseResumeCycles() throws {
            let machine = try TestVM(ramSize: 0x10000)
            let runner = try spinningRunner(machine)
            try machine.memory.write(contentsOf: Self.counting, at: GuestAddress(0x1000))
            func counter() throws -> UInt32 { try machine.memory.read(UInt32.self, at: GuestAddress(0x2000)) }
            #expect(runner.state == .created)
            try runner.start()
            #expect(runner.state == .running)
            try waitUntil("the guest's first iterations") { (try? counter()) ?? 0 > 0 }
            var pauseNanoseconds: [UInt64] = []
            var first: UInt32?
            for cycle in 0..<1000 {
                let start = DispatchFreeClock.now()
                try runner.pause()
                pauseNanoseconds.append(DispatchFreeClock.now() - start)
                #expect(runner.state == .paused)
                if cycle % 100 == 0 {
                    // Paused means parked: the counter does not move while it is.
                    let parked = try counter()
                    first = first ?? parked
                    usleep(2000)
                    #expect(try counter() == parked, "cycle \(cycle): the guest ran while paused")
                }
                try runner.resume()
                #expect(runner.state == .running)
            }
            // Resumed means running: the guest goes on counting after the last resume.
            let resumed = try counter()
            try waitUntil("the guest to count again after the last resume") { (try? counter()) ?? 0 > resumed }
            #expect(try counter() > first ?? .max)
            #expect(runner.stop() == .stoppedByOwner)
            #expect(runner.state == .stopped)
            // Stopped inside its loop: at one of its two instructions.
            #expect([0x1000, 0x1005].contains(try runner.vcpu.registers().rip))
            pauseNanoseconds.sort()
            print(
                "pause latency (kick → parked) over 1000 cycles: p50 \(pauseNanoseconds[500] / 1000) µs, "
                    + "p99 \(pauseNanoseconds[990] / 1000) µs, max \(pauseNanoseconds[999] / 1000) µs")
        }

        @Test func invalidTransitionsAreTypedErrors() throws {
            let machine = try TestVM(ramSize: 0x10000)
            let runner = try spinningRunner(machine)
            #expect(throws: VCPUError.invalidTransition(from: .created, action: .pause)) { try runner.pause() }
            #expect(throws: VCPUError.invalidTransition(from: .created, action: .resume)) { try runner.resume() }
            try runner.start()
            #expect(throws: VCPUError.invalidTransition(from: .running, action: .start)) { try runner.start() }
            #expect(throws: VCPUError.invalidTransition(from: .running, action: .resume)) { try runner.resume() }
            try runner.pause()
            #expect(throws: VCPUError.invalidTransition(from: .paused, action: .pause)) { try runner.pause() }
            runner.stop()
            #expect(throws: VCPUError.invalidTransition(from: .stopped, action: .start)) { try runner.start() }
            // Stopping twice is fine and reports the same outcome.
            #expect(runner.stop() == .stoppedByOwner)
            // A runner that never started stops without a thread.
            let idle = try spinningRunner(machine, id: 1)
            #expect(idle.stop() == .stoppedByOwner)
        }

        @Test(.usesKVM(exclusively: true)) func stoppingRunningVCPUsLeaksNoThreadOrDescriptor() throws {
            let descriptorsBefore = kvmDescriptorLinks()
            var threadIDs: [Int32] = []
            do {
                let machine = try TestVM(ramSize: 0x10000)
                let runners = try (0..<4).map { try spinningRunner(machine, id: UInt64($0)) }
                for runner in runners { try runner.start() }
                for runner in runners {
                    try waitUntil("the vCPU thread to start", interval: 0) { runner.threadID != nil }
                    threadIDs.append(runner.threadID!)
                }
                #expect(threadIDs.allSatisfy(threadExists))
                for runner in runners { #expect(runner.stop() == .stoppedByOwner) }
            }
            #expect(!threadIDs.contains(where: threadExists), "vCPU threads survived stop()")
            #expect(kvmDescriptorLinks() == descriptorsBefore)
        }

        @Test func kickLatencyIsMeasured() throws {
            let machine = try TestVM(ramSize: 0x10000)
            let runner = try spinningRunner(machine)
            try runner.start()
            // Each kick makes KVM_RUN return; the run loop finds no request and re-enters.
            let before = runner.statistics.count(.interrupted)
            var samples: [UInt64] = []
            for _ in 0..<200 {
                let start = DispatchFreeClock.now()
                runner.kick()
                let seen = before + UInt64(samples.count)
                try waitUntil("kick \(samples.count) to bring the vCPU out", interval: 0) {
                    runner.statistics.count(.interrupted) > seen
                }
                samples.append(DispatchFreeClock.now() - start)
            }
            // One interrupted exit per kick: none lost, none doubled.
            #expect(runner.statistics.count(.interrupted) - before == 200)
            runner.stop()
            samples.sort()
            print(
                "kick latency (kick → vCPU out of the guest) over 200 kicks: p50 \(samples[100] / 1000) µs, "
                    + "p99 \(samples[198] / 1000) µs")
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
enum DispatchFreeClock {
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

extension VCPUTests.Lifecycle {
    @Test func asyncPauseResumeAndStop() async throws {
        let machine = try TestVM(ramSize: 0x10000)
        let runner = try spinningRunner(machine)
        try runner.start()
        for _ in 0..<20 {
            try await runner.paused()
            #expect(runner.state == .paused)
            try await runner.resumed()
            #expect(runner.state == .running)
        }
        #expect(await runner.stopped(requesting: true) == .stoppedByOwner)
        #expect(runner.state == .stopped)
    }
}

extension VCPUTests.Lifecycle {
    /// A runner whose owner lets go while the guest still runs: the vCPU thread holds the last
    /// reference and releases it itself after the guest's HLT (the runner then detaches rather
    /// than joining its own thread). The run must finish and the thread end, with no hang.
    @Test func droppedRunnerFinishesOnItsOwnThread() throws {
        /// Records the vCPU thread's id, then holds the exit long enough for the owner to let go.
        final class SlowDevice: PortIODevice {
            let threadID = Mutex<Int32?>(nil)
            func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {}
            func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
                threadID.withLock { $0 = HostThread.currentKernelID }
                usleep(50_000)
            }
        }
        let machine = try TestVM()
        let vcpu = try machine.makeVCPU(id: 0)
        try machine.startLongMode(vcpu, code: Guest.apicSum)
        let device = SlowDevice()
        do {
            let bus = PortIOBus()
            try bus.insert(device, base: 0x20, size: 4)
            try VCPURunner(vcpu: vcpu, portIO: bus).start()
        }
        // The owner's reference is gone; wait (bounded) for the guest's OUT, then for the thread
        // to finish the guest and go away.
        for _ in 0..<10_000 where device.threadID.withLock({ $0 }) == nil { usleep(1000) }
        let tid = try #require(device.threadID.withLock { $0 })
        for _ in 0..<10_000 where threadExists(tid) { usleep(1000) }
        #expect(!threadExists(tid))
        #expect(try vcpu.registers().rip > 0x10000, "the guest ran to its HLT")
    }
}
