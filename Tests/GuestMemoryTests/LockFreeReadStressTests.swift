import HostSupport
import Synchronization
import Testing

@testable import GuestMemory

#if canImport(Glibc)
    import Glibc
#endif

/// Accesses through ``AtomicGuestMemory`` take no lock, yet while a writer thread hot-adds and
/// hot-removes regions in a loop, reader threads reading, writing and borrowing host segments
/// (a) only ever see a whole map — the old layout or the new one, never a mix — (b) never see a
/// removed region released while their access still uses it, and (c) every removed region is
/// released once the readers are done, without any further update.
///
/// The regions are ``TrackedRegion``s: released too early they read as poison (detected, no
/// crash), and their releases are counted.
@Suite struct LockFreeReadStressTests {
    /// Hotplug rounds; each adds and removes a pair of adjacent regions X + Y (in one update
    /// each way) and a region Z (with `insert` and `remove(slot:)`).
    static let generations = 300
    static let readers = 3
    /// X and Y of generation g are regions 3g and 3g + 1, Z is 3g + 2; region 0 stays.
    static let x = GuestAddress(0x10000)
    static let y = GuestAddress(0x11000)
    static let z = GuestAddress(0x20000)
    /// The last 8 bytes of X.
    static let acrossXY = GuestAddress(0x10000 + page - 8)

    final class Shared: Sendable {
        let done = Atomic(false)
        /// X's id while reader 0 holds the pair inside an access, waiting for its removal.
        let holding = Atomic(0)
        /// The last generation whose pair was removed.
        let removedThrough = Atomic(0)
        /// Accesses that held a pair across its removal (and its retirement).
        let handshakes = Atomic(0)
        let sawPair = Atomic(0)
        let sawNoPair = Atomic(0)
        let problems = Mutex<[String]>([])

        func report(_ problem: String) {
            problems.withLock { if $0.count < 20 { $0.append(problem) } }
        }
    }

    @Test(arguments: ReadSectionSetup.allCases)
    func hotplugWhileThreadsAccessMemory(_ setup: ReadSectionSetup) throws {
        let ids = 3 * (Self.generations + 1)
        let pool = RegionPool(pages: ids)
        let ledger = ReleaseLedger(capacity: ids)
        let shared = Shared()
        do {
            let memory = AtomicGuestMemory(
                try GuestMemoryMap(regions: [TrackedRegion(id: 0, at: 0, pool: pool, ledger: ledger)]),
                readers: setup.domain())
            var threads = [try HostThread.spawn { Self.writeLoop(memory, pool, ledger, shared) }]
            for reader in 0..<Self.readers {
                threads.append(try HostThread.spawn { Self.readLoop(reader, memory, ids, ledger, shared) })
            }
            for thread in threads { thread.join() }

            // (c) Every removed region is released by now: no access or update since the readers ended.
            let removed = 3 * Self.generations
            #expect(ledger.releases == removed)
            #expect((3..<3 + removed).allSatisfy(ledger.isReleased))
            #expect(!ledger.isReleased(0))
            #expect(memory.map.count == 1)
        }
        #expect(ledger.releases == 3 * Self.generations + 1, "the last region is released with the memory")

        let problems = shared.problems.withLock { $0 }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        // The test did what it says: accesses saw both layouts and held pairs across their removal.
        let sawPair = shared.sawPair.load(ordering: .relaxed), sawNoPair = shared.sawNoPair.load(ordering: .relaxed)
        let handshakes = shared.handshakes.load(ordering: .relaxed)
        #expect(sawPair > 0 && sawNoPair > 0)
        #expect(handshakes > 0)
    }

    // MARK: Writer

    static func writeLoop(_ memory: AtomicGuestMemory, _ pool: RegionPool, _ ledger: ReleaseLedger, _ shared: Shared) {
        do {
            for g in 1...generations {
                let pairX = TrackedRegion(id: 3 * g, at: x.rawValue, pool: pool, ledger: ledger)
                let pairY = TrackedRegion(id: 3 * g + 1, at: y.rawValue, pool: pool, ledger: ledger)
                try memory.update { (map) throws(GuestMemoryError) in try map.inserting(pairX).inserting(pairY) }
                let zSlot = try memory.insert(TrackedRegion(id: 3 * g + 2, at: z.rawValue, pool: pool, ledger: ledger))
                if g % 2 == 0 {
                    // Let reader 0 get inside an access to this pair before it goes (bounded wait).
                    _ = yielding { shared.holding.load(ordering: .acquiring) == 3 * g }
                }
                try memory.update { (map) throws(GuestMemoryError) in
                    guard let xSlot = map.entry(containing: x)?.slot, let ySlot = map.entry(containing: y)?.slot else {
                        throw .unmapped(x)
                    }
                    return try map.removing(slot: xSlot).removing(slot: ySlot)
                }
                shared.removedThrough.store(g, ordering: .releasing)
                _ = try memory.remove(slot: zSlot)
            }
        } catch {
            shared.report("writer: \(error)")
        }
        shared.done.store(true, ordering: .releasing)
    }

    // MARK: Readers

    static func readLoop(
        _ reader: Int, _ memory: AtomicGuestMemory, _ ids: Int, _ ledger: ReleaseLedger, _ shared: Shared
    ) {
        var round = 0
        while !shared.done.load(ordering: .acquiring) || round < 200 {
            round += 1
            borrowPair(
                memory, holder: reader == 0, forWriting: round % 3 == 0, yieldMidAccess: round % 8 == 0, ids, ledger,
                shared)
            readValues(memory, ids, shared)
            writeScratch(memory, reader: reader, round: round, shared)
            checkSnapshot(memory, ids, shared)
        }
    }

    /// One access to X + Y through `withHostSegments`: both there, of one generation, intact
    /// and not released until the access ends — or both absent.
    static func borrowPair(
        _ memory: AtomicGuestMemory, holder: Bool, forWriting: Bool, yieldMidAccess: Bool, _ ids: Int,
        _ ledger: ReleaseLedger, _ shared: Shared
    ) {
        do {
            try memory.withHostSegments(at: x, count: 2 * Int(page), forWriting: forWriting) {
                (segments) throws(GuestMemoryError) -> (result: Void, bytesWritten: Int) in
                guard segments.count == 2 else {
                    shared.report("the pair came in \(segments.count) segments")
                    return ((), 0)
                }
                let xBytes = UnsafeRawBufferPointer(segments[0]), yBytes = UnsafeRawBufferPointer(segments[1])
                let xID = Int(truncatingIfNeeded: UInt64(littleEndian: xBytes.load(as: UInt64.self)))
                let yID = Int(truncatingIfNeeded: UInt64(littleEndian: yBytes.load(as: UInt64.self)))
                guard xID > 0, xID < ids, xID % 3 == 0, yID == xID + 1 else {
                    shared.report("torn or released pair: X \(xID), Y \(yID)")
                    return ((), 0)
                }
                if holder && (xID / 3) % 2 == 0 && shared.holding.load(ordering: .relaxed) != xID {
                    // Hold the pair while the writer removes it (and retires, maybe tries to
                    // release, the map): then it must still be here, and a nested access must
                    // see the new map.
                    shared.holding.store(xID, ordering: .releasing)
                    if yielding(until: { shared.removedThrough.load(ordering: .acquiring) >= xID / 3 }) {
                        if let nested = try? memory.read(UInt64.self, at: x), nested == UInt64(xID) {
                            shared.report("a removed pair is still current")
                        }
                        shared.handshakes.add(1, ordering: .relaxed)
                    }
                } else if yieldMidAccess {
                    sched_yield()  // let the writer run in the middle of the access
                }
                // (b) Still mapped, unchanged and not released, until the access ends.
                if ledger.isReleased(xID) || ledger.isReleased(yID) {
                    shared.report("region \(xID) or \(yID) released during an access")
                }
                if !intact(xBytes, id: xID) || !intact(yBytes, id: yID) {
                    shared.report("region \(xID) or \(yID) changed during an access")
                }
                if forWriting {
                    // Writes the byte that is there. (The whole of X's one page is reported
                    // written — the same dirty page as 101 bytes, and a count that ends inside
                    // a segment other than the last traps in GuestMemoryMap.withHostSegments.)
                    segments[0][100] = TrackedRegion.pattern(of: xID)
                    return ((), Int(page))
                }
                return ((), 0)
            }
            shared.sawPair.add(1, ordering: .relaxed)
        } catch GuestMemoryError.unmapped(let address) where address == x {
            shared.sawNoPair.add(1, ordering: .relaxed)
        } catch {
            shared.report("pair: \(error)")  // .unmapped(Y): X without Y, a torn map
        }
    }

    /// Whether `bytes` (a whole tracked region) still hold region `id`'s contents.
    static func intact(_ bytes: UnsafeRawBufferPointer, id: Int) -> Bool {
        UInt64(littleEndian: bytes.load(as: UInt64.self)) == UInt64(id)
            && bytes[8...].allSatisfy { $0 == TrackedRegion.pattern(of: id) }
    }

    /// Single values (the inlined fast path) and a read across X and Y (the general path).
    static func readValues(_ memory: AtomicGuestMemory, _ ids: Int, _ shared: Shared) {
        func check(_ address: GuestAddress, residue: Int) {
            do {
                let id = Int(truncatingIfNeeded: try memory.read(UInt64.self, at: address))
                if id <= 0 || id >= ids || id % 3 != residue { shared.report("read \(id) at \(address)") }
            } catch GuestMemoryError.unmapped(let a) where a == address {
            } catch {
                shared.report("read at \(address): \(error)")
            }
        }
        check(x, residue: 0)
        check(y, residue: 1)
        check(z, residue: 2)
        // The last 8 bytes of X and the first 8 of Y, in one access.
        var bytes = [UInt8](repeating: 0, count: 16)
        do {
            try memory.read(into: &bytes, at: acrossXY)
            let yID = Int(
                truncatingIfNeeded: UInt64(
                    littleEndian: bytes.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt64.self) }))
            if yID <= 0 || yID >= ids || yID % 3 != 1
                || bytes[..<8].contains(where: { $0 != TrackedRegion.pattern(of: yID - 1) })
            {
                shared.report("read across X and Y: \(bytes)")
            }
        } catch GuestMemoryError.unmapped(let a) where a == acrossXY {
        } catch {
            shared.report("read across X and Y: \(error)")  // .unmapped(Y): a torn map
        }
    }

    /// Writes to the region that stays (the write fast path and the bytes path), read back.
    static func writeScratch(_ memory: AtomicGuestMemory, reader: Int, round: Int, _ shared: Shared) {
        let slot = GuestAddress(UInt64(0x800 + 16 * reader))
        let bytesSlot = GuestAddress(slot.rawValue + 8)
        do {
            try memory.write(UInt64(round), at: slot)
            try memory.write(contentsOf: [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 8), at: bytesSlot)
            let value = try memory.read(UInt64.self, at: slot)
            let bytes = try memory.readBytes(count: 8, at: bytesSlot)
            if value != UInt64(round) || bytes.contains(where: { $0 != UInt8(truncatingIfNeeded: round) }) {
                shared.report("scratch of reader \(reader) reads \(value), \(bytes) in round \(round)")
            }
        } catch {
            shared.report("scratch: \(error)")
        }
    }

    /// A strong snapshot holds X and Y of one generation, or neither.
    static func checkSnapshot(_ memory: AtomicGuestMemory, _ ids: Int, _ shared: Shared) {
        let map = memory.map
        let xRegion = map.entry(containing: x)?.region as? TrackedRegion
        let yRegion = map.entry(containing: y)?.region as? TrackedRegion
        switch (xRegion, yRegion) {
        case (nil, nil): break
        case (let xRegion?, let yRegion?) where yRegion.id == xRegion.id + 1:
            if (try? map.read(UInt64.self, at: y)) != UInt64(yRegion.id) {
                shared.report("snapshot's region \(yRegion.id) does not read back")
            }
        default:
            shared.report("snapshot with X \(String(describing: xRegion?.id)), Y \(String(describing: yRegion?.id))")
        }
    }
}
