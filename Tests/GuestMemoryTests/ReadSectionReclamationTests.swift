import HostSupport
import Synchronization
import Testing

@testable import GuestMemory

/// A region that a hotplug removes while an access through ``AtomicGuestMemory`` is using it
/// stays mapped until that access ends — the writer does not wait for it — and is released as
/// soon as it ends, by the access itself (no further update needed); an access that starts
/// after the hotplug, even nested in the old one, sees the new map.
@Suite struct ReadSectionReclamationTests {
    /// Tracked regions 0 (at 0) and 1 (at 0x10000), one page each, under `setup`'s read sections,
    /// with the ledger recording their releases.
    static func twoTrackedRegions(_ setup: ReadSectionSetup) throws -> (AtomicGuestMemory, ReleaseLedger) {
        let pool = RegionPool(pages: 2)
        let ledger = ReleaseLedger(capacity: 2)
        let memory = AtomicGuestMemory(
            try GuestMemoryMap(regions: [
                TrackedRegion(id: 0, at: 0, pool: pool, ledger: ledger),
                TrackedRegion(id: 1, at: 0x10000, pool: pool, ledger: ledger),
            ]), readers: setup.domain())
        return (memory, ledger)
    }

    @Test(arguments: ReadSectionSetup.allCases)
    func aRegionRemovedDuringAnAccessIsReleasedWhenTheAccessEnds(_ setup: ReadSectionSetup) throws {
        let (memory, ledger) = try Self.twoTrackedRegions(setup)
        let seen = try memory.withHostSegments(at: GuestAddress(0x10000), count: 8, forWriting: false) {
            (segments) throws(GuestMemoryError) -> (result: UInt64, bytesWritten: Int) in
            _ = try memory.remove(slot: MemorySlot(1))
            #expect(!ledger.isReleased(1), "released while an access uses it")
            #expect(throws: GuestMemoryError.unmapped(GuestAddress(0x10000))) {
                try memory.read(UInt64.self, at: GuestAddress(0x10000))
            }
            return (segments[0].load(as: UInt64.self), 0)
        }
        #expect(UInt64(littleEndian: seen) == 1)
        #expect(ledger.isReleased(1), "not released when the access ended")
        #expect(ledger.releases == 1)
    }

    @Test(arguments: ReadSectionSetup.allCases)
    func anotherThreadsAccessKeepsARemovedRegionUntilItEnds(_ setup: ReadSectionSetup) throws {
        final class Handshake: Sendable {
            let inside = Atomic(false), proceed = Atomic(false), intact = Atomic(false)
        }
        let (memory, ledger) = try Self.twoTrackedRegions(setup)
        let handshake = Handshake()
        let reader = try HostThread.spawn {
            _ = try? memory.withHostSegments(at: GuestAddress(0x10000), count: Int(page), forWriting: false) {
                (segments) throws(GuestMemoryError) in
                handshake.inside.store(true, ordering: .releasing)
                _ = yielding { handshake.proceed.load(ordering: .acquiring) }
                let bytes = UnsafeRawBufferPointer(segments[0])
                let intact =
                    UInt64(littleEndian: bytes.load(as: UInt64.self)) == 1
                    && bytes[8...].allSatisfy { $0 == TrackedRegion.pattern(of: 1) }
                handshake.intact.store(intact, ordering: .relaxed)
                return ((), 0)
            }
        }
        let entered = yielding { handshake.inside.load(ordering: .acquiring) }
        #expect(entered, "the reader never started its access")
        if entered {
            _ = try memory.remove(slot: MemorySlot(1))  // returns at once: writers never wait for readers
            #expect(!ledger.isReleased(1), "released while another thread's access uses it")
        }
        handshake.proceed.store(true, ordering: .releasing)
        reader.join()
        if entered {
            let intact = handshake.intact.load(ordering: .relaxed)
            #expect(intact, "the region changed under the access")
            #expect(ledger.isReleased(1), "not released when the access ended")
        }
    }

    @Test func aThreadsRecordIsFreedWhenTheThreadExits() throws {
        let domain = ReaderDomain(capacity: 4)
        let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [try makeRegion(0, pages: 1)]), readers: domain)
        for _ in 0..<8 {
            let thread = try HostThread.spawn { _ = try? memory.read(UInt64.self, at: .zero) }
            thread.join()
        }
        let owned = (0..<domain.capacity).filter { domain.record($0).pointee.owner.load(ordering: .relaxed) != 0 }
        #expect(owned.isEmpty)
        let overflowReaders = domain.overflowReaders.load(ordering: .relaxed)
        #expect(overflowReaders == 0)
    }
}
