import GuestMemory
import KVM
import Synchronization
import Testing

/// A `VirtualMachineHandle` that keeps memory slots the way KVM does (an overlap with another
/// slot is `EEXIST`, deleting an unknown slot is `EINVAL`) and records every operation.
final class FakeVM: DirtyTrackingHandle {
    struct State {
        var slots: [UInt32: UserMemoryRegion] = [:]
        var log: [String] = []
        /// Adding this slot fails with `ENOSPC`.
        var failingSlot: UInt32?
        /// What `dirtyLog(slot:)` returns, by slot (zeros otherwise).
        var dirtyLogs: [UInt32: [UInt64]] = [:]
    }

    let state = Mutex(State())

    var log: [String] { state.withLock { $0.log } }
    var slots: [UserMemoryRegion] { state.withLock { $0.slots.values.sorted { $0.slot < $1.slot } } }

    func setUserMemoryRegion(_ region: UserMemoryRegion) throws(KVMError) {
        try state.withLock { (state) throws(KVMError) in
            let failure = KVMError.systemCall(operation: "KVM_SET_USER_MEMORY_REGION", errno: .invalidArgument)
            if region.size == 0 {
                guard state.slots.removeValue(forKey: region.slot) != nil else { throw failure }
                state.log.append("delete \(region.slot)")
                return
            }
            if state.failingSlot == region.slot {
                throw .systemCall(operation: "KVM_SET_USER_MEMORY_REGION", errno: .noSpace)
            }
            guard state.slots[region.slot] == nil else { throw failure }
            let end = region.guestPhysicalAddress + region.size
            for other in state.slots.values
            where region.guestPhysicalAddress < other.guestPhysicalAddress + other.size
                && other.guestPhysicalAddress < end
            {
                throw .systemCall(operation: "KVM_SET_USER_MEMORY_REGION", errno: .fileExists)
            }
            state.slots[region.slot] = region
            state.log.append(
                "add \(region.slot) 0x\(String(region.guestPhysicalAddress, radix: 16)) \(region.flags.rawValue)")
        }
    }

    func setIRQLine(_ gsi: UInt32, active: Bool) throws(KVMError) {}

    func signalMSI(address: UInt64, data: UInt32, deviceID: UInt32?) throws(KVMError) -> Bool { true }

    func dirtyLog(slot: UInt32) throws(KVMError) -> [UInt64] {
        try state.withLock { (state) throws(KVMError) in
            guard let region = state.slots[slot] else { throw .invalidArgument("no slot \(slot)") }
            state.log.append("get \(slot)")
            return state.dirtyLogs[slot] ?? Array(repeating: 0, count: (region.pageCount + 63) / 64)
        }
    }

    func clearDirtyLog(slot: UInt32, firstPage: UInt64, bitmap: [UInt64]) throws(KVMError) {
        state.withLock { $0.log.append("clear \(slot) \(firstPage) \(bitmap)") }
    }

    func resetDirtyRings() throws(KVMError) -> Int {
        state.withLock { $0.log.append("reset") }
        return 0
    }
}

/// A vCPU whose dirty ring holds fixed entries.
final class FakeVCPU: DirtyRingHandle {
    let pages: [DirtyPage]
    init(_ pages: [DirtyPage]) { self.pages = pages }
    func harvestDirtyRing() throws(KVMError) -> [DirtyPage] { pages }
}

/// The bridge against a fake VM: no /dev/kvm needed.
@Suite struct GuestMemoryBridgeFakeVMTests {
    static func region(at base: UInt64, size: UInt64 = 0x10000, readOnly: Bool = false) throws -> MmapRegion {
        try MmapRegion(guestBase: GuestAddress(base), size: size, options: .init(readOnly: readOnly, noReserve: true))
    }

    static let logged = MemoryRegionFlags.logDirtyPages.rawValue
    static let readOnly = MemoryRegionFlags.readOnly.rawValue

    @Test func registersEveryRegionWithItsSlotAndFlags() throws {
        let a = try Self.region(at: 0)
        let rom = try Self.region(at: 0x40000, readOnly: true)
        let map = try GuestMemoryMap(entries: [
            .init(slot: MemorySlot(4), region: a), .init(slot: MemorySlot(2), region: rom),
        ])
        let vm = FakeVM()
        try GuestMemoryBridge(vm: vm, tracking: .bitmap(manualProtection: false)).apply(map)
        #expect(vm.log == ["add 2 0x40000 \(Self.readOnly)", "add 4 0x0 \(Self.logged)"])
        #expect(vm.slots.map(\.userspaceAddress) == [rom, a].map { UInt64(UInt(bitPattern: $0.hostBase)) })
        #expect(vm.slots.map(\.size) == [0x10000, 0x10000])

        let untracked = FakeVM()
        try GuestMemoryBridge(vm: untracked).apply(map)
        #expect(untracked.log == ["add 2 0x40000 \(Self.readOnly)", "add 4 0x0 0"])
    }

    /// A new region takes over a removed region's addresses and slot number, and another
    /// takes addresses of a removed region with a higher slot number: every deletion must come
    /// before every addition (the fake, like KVM, refuses overlapping slots).
    @Test func hotplugDeletesBeforeAddingSoNothingIsDoubleMapped() throws {
        let vm = FakeVM()
        let bridge = GuestMemoryBridge(vm: vm, tracking: .bitmap(manualProtection: false))
        let old = try GuestMemoryMap(entries: [
            .init(slot: MemorySlot(0), region: try Self.region(at: 0)),
            .init(slot: MemorySlot(1), region: try Self.region(at: 0x10000)),
            .init(slot: MemorySlot(5), region: try Self.region(at: 0x200000)),
        ])
        try bridge.apply(old)
        #expect(
            vm.log == ["add 0 0x0 \(Self.logged)", "add 1 0x10000 \(Self.logged)", "add 5 0x200000 \(Self.logged)"])

        // Slot 1 is replaced by a larger region at the same base (the lowest free slot: 1);
        // slot 5's addresses go to a region in slot 2.
        let new = try old.removing(slot: MemorySlot(1)).removing(slot: MemorySlot(5))
            .inserting(try Self.region(at: 0x10000, size: 0x20000))
            .inserting(try Self.region(at: 0x200000, size: 0x1000, readOnly: true))
        #expect(new.entries.map(\.slot) == [MemorySlot(0), MemorySlot(1), MemorySlot(2)])
        try bridge.apply(new)
        #expect(
            vm.log.dropFirst(3) == [
                "delete 1", "delete 5", "add 1 0x10000 \(Self.logged)", "add 2 0x200000 \(Self.readOnly)",
            ])
        #expect(vm.slots.map(\.guestPhysicalAddress) == new.entries.map(\.region.guestBase.rawValue))

        // Applying the same map again changes nothing.
        try bridge.apply(new)
        #expect(vm.log.count == 7)

        try bridge.removeAll()
        #expect(vm.log.dropFirst(7) == ["delete 0", "delete 1", "delete 2"])
        #expect(vm.slots.isEmpty)
    }

    /// After a failed addition the bridge knows which slots KVM has, and a later apply adds
    /// only what is missing.
    @Test func failedUpdateResumesFromWhatKVMHas() throws {
        let vm = FakeVM()
        let bridge = GuestMemoryBridge(vm: vm)
        let old = try GuestMemoryMap(regions: [try Self.region(at: 0), try Self.region(at: 0x10000)])
        try bridge.apply(old)
        let new = try old.removing(slot: MemorySlot(0)).inserting(try Self.region(at: 0x80000)).inserting(
            try Self.region(at: 0x90000))
        vm.state.withLock { $0.failingSlot = 2 }
        #expect(throws: KVMError.systemCall(operation: "KVM_SET_USER_MEMORY_REGION", errno: .noSpace)) {
            try bridge.apply(new)
        }
        #expect(vm.slots.map(\.slot) == [0, 1])
        #expect(try bridge.registeredMap().entries.map(\.slot.rawValue).sorted() == [0, 1])
        vm.state.withLock { $0.failingSlot = nil }
        try bridge.apply(new)
        #expect(vm.log.dropFirst(2) == ["delete 0", "add 0 0x80000 0", "add 2 0x90000 0"])
        #expect(vm.slots.map(\.slot) == [0, 1, 2])
    }

    @Test func slotNumbersOutsideAddressSpaceZeroAreRefusedBeforeAnyChange() throws {
        let vm = FakeVM()
        let map = try GuestMemoryMap(entries: [
            .init(slot: MemorySlot(0), region: try Self.region(at: 0)),
            .init(slot: MemorySlot(0x1_0000), region: try Self.region(at: 0x10000)),
        ])
        #expect(
            throws: KVMError.invalidArgument(
                "memory slot 65536 is above 65535 (bits 16–31 select an address space)")
        ) { try GuestMemoryBridge(vm: vm).apply(map) }
        #expect(vm.log.isEmpty)
    }

    /// With manual protection the bridge clears exactly the non-empty bitmaps it read, and
    /// never asks for the log of a read-only slot.
    @Test func manualProtectionClearsWhatWasCollected() throws {
        let map = try GuestMemoryMap(regions: [
            try Self.region(at: 0), try Self.region(at: 0x10000), try Self.region(at: 0x20000, readOnly: true),
        ])
        for manual in [false, true] {
            let vm = FakeVM()
            let bridge = GuestMemoryBridge(vm: vm, tracking: .bitmap(manualProtection: manual))
            try bridge.apply(map)
            vm.state.withLock { $0.dirtyLogs[1] = [0b1001] }
            #expect(try bridge.collectDirtyPages() == [GuestAddress(0x10000), GuestAddress(0x13000)])
            #expect(vm.log.dropFirst(3) == ["get 0", "get 1"] + (manual ? ["clear 1 0 [9]"] : []))
        }
    }

    /// Ring entries of slots the map does not have (hot-removed, or another address space) and
    /// pages past a slot's end are dropped; the rest are merged and the rings reset.
    @Test func ringEntriesOutsideTheMapAreDropped() throws {
        let vm = FakeVM()
        let bridge = GuestMemoryBridge(vm: vm, tracking: .ring)
        let data = try MmapRegion(
            guestBase: GuestAddress(0x10000), size: 0x10000, options: .init(trackDirtyPages: true))
        let map = try GuestMemoryMap(regions: [try Self.region(at: 0), data])
        try bridge.apply(map)
        try map.write(UInt8(1), at: GuestAddress(0x17000))
        let vcpus = [
            FakeVCPU([
                DirtyPage(slot: 1, pageOffset: 2), DirtyPage(slot: 7, pageOffset: 0),
                DirtyPage(slot: 1, pageOffset: 16),
            ]),
            FakeVCPU([
                DirtyPage(slot: 0x1_0001, pageOffset: 3), DirtyPage(slot: 0, pageOffset: 15),
                DirtyPage(slot: 1, pageOffset: 2),
            ]),
        ]
        #expect(
            try bridge.collectDirtyPages(vcpus: vcpus)
                == [GuestAddress(0xf000), GuestAddress(0x12000), GuestAddress(0x17000)])
        #expect(vm.log.dropFirst(2) == ["reset"])
    }
}
