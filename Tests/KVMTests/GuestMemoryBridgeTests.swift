import GuestMemory
import KVM
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Guest {
    /// `mov ax, 0x1000; mov ds, ax; mov byte [0x2000], 0x5a; mov al, [0x2000]; mov dx, 0x10;
    ///  out dx, al; hlt` — stores 0x5a at guest 0x12000, loads it back and reports it on port 0x10.
    static let storeThenLoad: [UInt8] = [
        0xb8, 0x00, 0x10, 0x8e, 0xd8, 0xc6, 0x06, 0x00, 0x20, 0x5a, 0xa0, 0x00, 0x20, 0xba, 0x10, 0x00,
        0xee, 0xf4,
    ]
}

/// A VM with one vCPU whose memory is a GuestMemory map registered through a
/// ``GuestMemoryBridge``: 16 KiB of RAM holding the code at guest 0 (slot 0), then `regions`.
struct BridgedMachine {
    static let codeAddress: UInt64 = 0x1000

    let vm: KVMVirtualMachine
    let vcpu: KVMVirtualCPU
    let memory: AtomicGuestMemory
    let bridge: GuestMemoryBridge<KVMVirtualMachine>

    init(tracking: DirtyPageTracking = .off, regions: [MmapRegion] = [], code: [UInt8]) throws {
        let machine = try TestVM(ramSize: 0x4000, tracking: tracking, regions: regions) { vm in
            switch tracking {
            case .off, .bitmap(manualProtection: false):
                break
            case .bitmap(manualProtection: true):
                try #require(try vm.check(.manualDirtyLogProtect2) > 0, "host lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2")
                try vm.enableManualDirtyLogProtection()
            case .ring:
                try #require(
                    try vm.check(.dirtyLogRing) > 0 || vm.check(.dirtyLogRingAcqRel) > 0,
                    "host lacks KVM_CAP_DIRTY_LOG_RING")
                try vm.enableDirtyRing(bytes: 65536)
            }
        }
        vm = machine.vm
        memory = AtomicGuestMemory(machine.memory)
        bridge = machine.bridge
        vcpu = try vm.createVCPU(id: 0)
        try memory.write(contentsOf: code, at: GuestAddress(Self.codeAddress))
        try restart()
    }

    /// Points the vCPU at the start of the code again (after a `hlt`).
    func restart() throws { try vcpu.enterRealMode(at: Self.codeAddress) }

    /// Runs to the next exit and describes it; an MMIO load is answered with `answer`.
    func step(answer: UInt64 = 0) throws -> String {
        switch try vcpu.runToExit() {
        case .hlt:
            return "hlt"
        case .io(let io) where io.direction == .out:
            return "out \(hex(UInt64(io.port))) \(hex(UInt64(io.value)))"
        case .mmio(let mmio) where mmio.isWrite:
            return "mmio write \(hex(mmio.address)) \(hex(mmio.value))"
        case .mmio(let mmio):
            mmio.setValue(answer)
            return "mmio read \(hex(mmio.address))"
        case let other:
            return "unexpected \(other)"
        }
    }
}

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

extension KVMTests {
    @Suite struct GuestMemoryBridgeTests {
        /// 16 pages at guest 0x10000 that record the host's writes.
        static func dataRegion(options: MmapRegionOptions = .init(trackDirtyPages: true)) throws -> MmapRegion {
            try MmapRegion(guestBase: GuestAddress(0x10000), size: 0x10000, options: options)
        }

        static func pages(_ numbers: [UInt64]) -> [GuestAddress] { numbers.map { GuestAddress(0x10000 + $0 * 0x1000) } }

        /// The guest (`Guest.dirtyPages`) writes page 2, exits, then writes pages 5 and 15; the
        /// host writes pages 3, then 5 and 8–9 through the GuestMemory API. Each collection is
        /// exactly the union since the previous one.
        @Test(arguments: [
            DirtyPageTracking.bitmap(manualProtection: false), .bitmap(manualProtection: true), .ring, .off,
        ])
        func mergedDirtySetIsExactlyTheGuestAndHostWrites(tracking: DirtyPageTracking) throws {
            let data = try Self.dataRegion()
            let machine = try BridgedMachine(tracking: tracking, regions: [data], code: Guest.dirtyPages)
            let logged: MemoryRegionFlags = tracking == .off ? [] : .logDirtyPages
            #expect(machine.vm.memoryRegions.map(\.slot) == [0, 1])
            #expect(machine.vm.memoryRegions.map(\.flags) == [logged, logged])
            let guestLogged = tracking != .off
            #expect(try machine.bridge.collectDirtyPages(vcpus: [machine.vcpu]) == [])

            #expect(try machine.step() == "out 0x10 0x0")
            try machine.memory.write(UInt32(0xdead_beef), at: GuestAddress(0x13000))
            #expect(
                try machine.bridge.collectDirtyPages(vcpus: [machine.vcpu]) == Self.pages(guestLogged ? [2, 3] : [3]))

            #expect(try machine.step() == "hlt")
            try machine.memory.write(UInt64(1), at: GuestAddress(0x15008))
            try machine.memory.write(UInt64.max, at: GuestAddress(0x18ffc))
            #expect(
                try machine.bridge.collectDirtyPages(vcpus: [machine.vcpu])
                    == Self.pages(guestLogged ? [5, 8, 9, 15] : [5, 8, 9]))
            #expect(try machine.bridge.collectDirtyPages(vcpus: [machine.vcpu]) == [])

            // The guest's writes landed in the region's memory.
            #expect(
                try [0x12000, 0x15000, 0x1f000].map { try machine.memory.read(UInt8.self, at: GuestAddress($0)) } == [
                    1, 1, 1,
                ])
        }

        /// A guest store to a read-only region exits as MMIO and leaves memory alone; a load
        /// reads the region.
        @Test func readOnlyRegionTurnsGuestWritesIntoMMIO() throws {
            let rom = try Self.dataRegion(options: .init(backing: .memfd(name: "bridge-rom"), readOnly: true))
            let fd = try #require(rom.fileBacking?.descriptor.rawValue)
            var byte: UInt8 = 0x77
            #expect(pwrite(fd, &byte, 1, 0x2000) == 1)
            let machine = try BridgedMachine(
                tracking: .bitmap(manualProtection: false), regions: [rom], code: Guest.storeThenLoad)
            #expect(machine.vm.memoryRegions.map(\.flags) == [.logDirtyPages, .readOnly])

            #expect(try machine.step() == "mmio write 0x12000 0x5a")
            #expect(try machine.step() == "out 0x10 0x77")
            #expect(try machine.step() == "hlt")
            #expect(rom.hostBase.load(fromByteOffset: 0x2000, as: UInt8.self) == 0x77)
            #expect(try machine.bridge.collectDirtyPages() == [])
        }

        /// Guest 0x12000 is unbacked (MMIO), then hot-added (the store and load land in the
        /// region), then hot-removed (MMIO again, the region's memory untouched).
        @Test func hotplugMakesGuestAccessesLandOrExit() throws {
            let machine = try BridgedMachine(code: Guest.storeThenLoad)
            #expect(try machine.step() == "mmio write 0x12000 0x5a")
            #expect(try machine.step(answer: 0x33) == "mmio read 0x12000")
            #expect(try machine.step() == "out 0x10 0x33")
            #expect(try machine.step() == "hlt")

            let data = try Self.dataRegion()
            let slot = try machine.memory.insert(data)
            try machine.bridge.apply(machine.memory.map)
            #expect(slot == MemorySlot(1))
            #expect(machine.vm.memoryRegions.map(\.slot) == [0, 1])
            try machine.restart()
            #expect(try machine.step() == "out 0x10 0x5a")
            #expect(try machine.step() == "hlt")
            #expect(data.hostBase.load(fromByteOffset: 0x2000, as: UInt8.self) == 0x5a)

            try machine.memory.remove(slot: slot)
            try machine.bridge.apply(machine.memory.map)
            #expect(machine.vm.memoryRegions.map(\.slot) == [0])
            #expect(try machine.bridge.registeredMap().entries.map(\.slot) == [MemorySlot(0)])
            data.hostBase.storeBytes(of: 0, toByteOffset: 0x2000, as: UInt8.self)
            try machine.restart()
            #expect(try machine.step() == "mmio write 0x12000 0x5a")
            #expect(try machine.step(answer: 0x44) == "mmio read 0x12000")
            #expect(try machine.step() == "out 0x10 0x44")
            #expect(try machine.step() == "hlt")
            #expect(data.hostBase.load(fromByteOffset: 0x2000, as: UInt8.self) == 0)
        }

        /// Tracking that does not match the VM's capabilities fails loudly.
        @Test func mismatchedTrackingIsAnError() throws {
            let data = try Self.dataRegion()
            // The VM has no dirty ring, so the vCPU has nothing to harvest.
            let machine = try BridgedMachine(regions: [data], code: Guest.storeThenLoad)
            let ringBridge = GuestMemoryBridge(vm: machine.vm, tracking: .ring)
            try machine.bridge.removeAll()
            #expect(machine.vm.memoryRegions.isEmpty)
            try ringBridge.apply(machine.memory.map)
            #expect(throws: KVMError.capabilityMissing(.dirtyLogRing)) {
                try ringBridge.collectDirtyPages(vcpus: [machine.vcpu])
            }
        }
    }
}
