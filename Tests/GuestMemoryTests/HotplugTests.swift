import GuestMemory
import Synchronization
import Testing

@Suite struct HotplugTests {
    static func filledRegion(_ base: UInt64, byte: UInt8) throws -> MmapRegion {
        let region = try makeRegion(base, pages: 1)
        region.hostBase.initializeMemory(as: UInt8.self, repeating: byte, count: Int(region.size))
        return region
    }

    @Test func readersKeepTheOldMapAndItsRegionsAlive() throws {
        let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [try Self.filledRegion(0, byte: 1)]))
        weak var weakRegion: MmapRegion?
        let slot: MemorySlot
        do {
            let region = try Self.filledRegion(0x10000, byte: 7)
            weakRegion = region
            slot = try memory.insert(region)
        }
        var held: GuestMemoryMap? = memory.map
        try memory.remove(slot: slot)
        #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x10000))) {
            try memory.read(UInt8.self, at: GuestAddress(0x10000))
        }
        #expect(try held?.read(UInt8.self, at: GuestAddress(0x10fff)) == 7)  // still mapped for the old reader
        #expect(weakRegion != nil)
        held = nil
        #expect(weakRegion == nil)  // unmapped once the last reader let go
    }

    @Test func slotsAreStableAndChangesAreReported() throws {
        let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [try makeRegion(0, pages: 1)]))
        let b = try makeRegion(0x10000, pages: 1), c = try makeRegion(0x20000, pages: 1),
            d = try makeRegion(0x30000, pages: 1)
        #expect(try memory.insert(b) == MemorySlot(1))
        #expect(try memory.insert(c) == MemorySlot(2))
        try memory.remove(slot: MemorySlot(1))
        let (old, new) = try memory.update { (map) throws(GuestMemoryError) in try map.inserting(d) }
        #expect(new.entry(containing: GuestAddress(0x30000))?.slot == MemorySlot(1))  // the freed slot is reused
        #expect(new.entry(containing: GuestAddress(0x20000))?.slot == MemorySlot(2))  // c did not move
        let changes = new.changes(from: old)
        #expect(changes.added.map(\.slot) == [MemorySlot(1)] && changes.added.first?.region === d)
        #expect(changes.removed.isEmpty)
        #expect(throws: GuestMemoryError.unknownSlot(MemorySlot(9))) { try memory.remove(slot: MemorySlot(9)) }
        let cRange = try GuestAddressRange(start: GuestAddress(0x20000), count: page)
        #expect(throws: GuestMemoryError.overlappingRegions(cRange, cRange)) {
            try memory.insert(try makeRegion(0x20000, pages: 1))
        }
    }

    @Test func hotplugWhileAnotherThreadReads() async throws {
        let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [try Self.filledRegion(0, byte: 0x11)]))
        final class Counters: Sendable {
            let done = Atomic<Bool>(false), plugged = Atomic<Int>(0), unplugged = Atomic<Int>(0)
        }
        let counters = Counters()
        let writer = Task.detached {
            for i in 0..<200 {
                let slot = try memory.insert(try Self.filledRegion(0x10000, byte: UInt8(i % 250 + 1)))
                await Task.yield()
                try memory.remove(slot: slot)
            }
            counters.done.store(true, ordering: .releasing)
        }
        let reader = Task.detached { () -> [String] in
            var problems: [String] = []
            var rounds = 0
            while !counters.done.load(ordering: .acquiring) || rounds < 100 {
                rounds += 1
                let map = memory.map
                if (try? map.read(UInt8.self, at: .zero)) != 0x11 { problems.append("region A changed") }
                do {
                    let bytes = try map.readBytes(count: Int(page), at: GuestAddress(0x10000))
                    counters.plugged.add(1, ordering: .relaxed)
                    if bytes.first == 0 || Set(bytes).count != 1 { problems.append("torn or empty hot-plugged region") }
                } catch GuestMemoryError.unmapped(let a) where a == GuestAddress(0x10000) {
                    counters.unplugged.add(1, ordering: .relaxed)
                } catch {
                    problems.append("unexpected \(error)")
                }
                if rounds % 16 == 0 { await Task.yield() }
            }
            return problems
        }
        try await writer.value
        let problems = await reader.value
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(counters.plugged.load(ordering: .relaxed) + counters.unplugged.load(ordering: .relaxed) >= 100)
        #expect(memory.map.count == 1)
    }
}
