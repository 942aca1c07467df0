import KVM
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension KVMTests {
    /// The guest writes page 2 of the logged slot, exits on port 0x10, then writes pages 5 and 15
    /// and halts. Tracking must report exactly those pages, phase by phase.
    @Suite struct DirtyTracking {
        static let slot: UInt32 = 1
        static let slotBase: UInt64 = 0x10000
        static let slotPages = 16

        /// A machine whose slot 1 (16 pages at 0x10000) logs dirty pages; code lives in slot 0.
        /// Keep the returned memory alive while the guest runs: it backs the slot.
        func machine(prepare: @escaping (KVMVirtualMachine) throws -> Void = { _ in }) throws -> (
            TestMachine, HostMemory
        ) {
            let machine = try TestMachine(prepare: prepare)
            let data = HostMemory(size: Self.slotPages * 4096)
            try machine.vm.setUserMemoryRegion(
                UserMemoryRegion(
                    slot: Self.slot, guestPhysicalAddress: Self.slotBase, size: data.size, memory: data.base,
                    flags: .logDirtyPages))
            try machine.loadRealMode(Guest.dirtyPages)
            return (machine, data)
        }

        func runPhase(_ machine: TestMachine, until expected: String) throws {
            let exit = try machine.runToExit()
            switch (exit, expected) {
            case (.io(let io), "out") where io.port == 0x10: return
            case (.hlt, "hlt"): return
            default: Issue.record("expected \(expected), got \(exit)")
            }
        }

        @Test func bitmapReportsExactlyThePagesWritten() throws {
            let (machine, data) = try machine()
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [])
            try runPhase(machine, until: "out")
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [2])
            try runPhase(machine, until: "hlt")
            // Reading the log cleared it: only the second phase's pages remain.
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [5, 15])
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [])
            #expect(data.byte(at: 0x2000) == 1 && data.byte(at: 0x5000) == 1 && data.byte(at: 0xf000) == 1)
        }

        @Test(.enabled(if: hostHas(.manualDirtyLogProtect2), "host lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"))
        func manualProtectionClearsOnlyWhatIsCleared() throws {
            let (machine, data) = try machine { vm in try vm.enableManualDirtyLogProtection() }
            defer { withExtendedLifetime(data) {} }
            try runPhase(machine, until: "out")
            let first = try machine.vm.dirtyLog(slot: Self.slot)
            #expect(first.setBitIndices == [2])
            // With manual protection, reading does not clear.
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [2])
            try machine.vm.clearDirtyLog(slot: Self.slot, bitmap: first)
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [])
            try runPhase(machine, until: "hlt")
            #expect(try machine.vm.dirtyLog(slot: Self.slot).setBitIndices == [5, 15])
        }

        @Test(.enabled(if: hostHas(.dirtyLogRing) || hostHas(.dirtyLogRingAcqRel), "host lacks KVM_CAP_DIRTY_LOG_RING"))
        func dirtyRingReportsExactlyThePagesWritten() throws {
            let (machine, data) = try machine { vm in try vm.enableDirtyRing(bytes: 65536) }
            defer { withExtendedLifetime(data) {} }
            #expect(machine.vcpu.hasDirtyRing)
            try runPhase(machine, until: "out")
            #expect(try machine.vcpu.harvestDirtyRing() == [DirtyPage(slot: Self.slot, pageOffset: 2)])
            #expect(try machine.vm.resetDirtyRings() == 1)
            try runPhase(machine, until: "hlt")
            let second = try machine.vcpu.harvestDirtyRing()
            #expect(
                second.sorted() == [
                    DirtyPage(slot: Self.slot, pageOffset: 5), DirtyPage(slot: Self.slot, pageOffset: 15),
                ])
            try machine.vm.resetDirtyRings()
            #expect(try machine.vcpu.harvestDirtyRing() == [])
            // The bitmap interface is not available once the ring is on: KVM_GET_DIRTY_LOG fails
            // with ENXIO.
            #expect(throws: KVMError.systemCall(operation: "KVM_GET_DIRTY_LOG", errno: .noSuchAddressOrDevice)) {
                try machine.vm.dirtyLog(slot: Self.slot)
            }
        }

        @Test func ringSizeIsValidated() throws {
            let vm = try KVMSystem().createVM()
            // The largest ring the host allows decides the message; without a dirty ring at all
            // the capability is what is missing.
            let limit = try max(vm.check(.dirtyLogRingAcqRel), vm.check(.dirtyLogRing))
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let expected: KVMError =
                limit > 0
                ? .invalidArgument("dirty ring size 12345 must be a power of two from \(page) to \(limit)")
                : .capabilityMissing(.dirtyLogRing)
            #expect(throws: expected) { try vm.enableDirtyRing(bytes: 12345) }
        }
    }
}
