import Foundation
import Testing

@testable import ResourceAllocator

@Suite struct IdAllocatorTests {
    private func error(_ body: () throws -> Void) -> IdAllocatorError? {
        do { try body(); return nil } catch { return error as? IdAllocatorError }
    }

    /// Whether `error` is `DecodingError.dataCorrupted` at `path` (the coding keys' names) with
    /// exactly `description`.
    private static func isDataCorrupted(_ error: any Error, at path: [String], _ description: String) -> Bool {
        guard case .dataCorrupted(let context) = error as? DecodingError else { return false }
        return context.codingPath.map(\.stringValue) == path && context.debugDescription == description
    }

    @Test func handsOutSmallestFreeIdWithinBounds() throws {
        var ids = try IdAllocator(first: 5, last: 9)
        #expect(try (0..<5).map { _ in try ids.allocate() } == [5, 6, 7, 8, 9])
        #expect(error { _ = try ids.allocate() } == .exhausted)
        try ids.free(8)
        try ids.free(6)
        #expect(try ids.allocate() == 6)
        #expect(try ids.allocate() == 8)
        #expect(ids.allocatedCount == 5)
        #expect(throws: IdAllocatorError.invalidRange(first: 3, last: 2)) { try IdAllocator(first: 3, last: 2) }
    }

    @Test func doubleFreeAndUnallocatedFreeAreErrors() throws {
        var ids = IdAllocator(0...10)
        let a = try ids.allocate(), b = try ids.allocate()
        try ids.free(a)
        #expect(error { try ids.free(a) } == .doubleFree(a))
        #expect(error { try ids.free(7) } == .notAllocated(7))
        #expect(error { try ids.free(11) } == .outOfRange(11))
        #expect(ids.isAllocated(b) && !ids.isAllocated(a))
    }

    /// rust-vmm vm-allocator < 0.1.4: freeing the id that would be handed out next was
    /// accepted, and the id was then handed out twice.
    @Test func freeingTheNextIdDoesNotCauseDoubleAllocation() throws {
        var ids = IdAllocator(1...100)
        let first = try ids.allocate()
        #expect(first == 1)
        #expect(error { try ids.free(2) } == .notAllocated(2))
        var seen: Set<UInt32> = [first]
        for _ in 0..<10 { #expect(seen.insert(try ids.allocate()).inserted) }
        // Also after handing back the top id, which lowers `next`.
        try ids.free(11)
        #expect(error { try ids.free(11) } == .notAllocated(11))
        #expect(try ids.allocate() == 11)
        #expect(try ids.allocate() == 12)
    }

    @Test func randomOperationsMatchASetModel() throws {
        // Reserved ids reach 20000, so the bitmap spans several summary words.
        var rng = SeededGenerator(seed: 7)
        let last: UInt32 = 20_009
        var ids = IdAllocator(10...last)
        var model = Set<UInt32>()
        var everHandedOut = Set<UInt32>()
        for _ in 0..<30_000 {
            switch rng.next() % 8 {
            case 0...2:
                let expected = (UInt32(10)...last).first { !model.contains($0) }
                do {
                    let id = try ids.allocate()
                    #expect(id == expected)
                    model.insert(id)
                    everHandedOut.insert(id)
                } catch {
                    #expect(expected == nil && error == .exhausted)
                }
            case 3:
                let id = UInt32(10 + rng.next() % (rng.next() % 4 == 0 ? 20_000 : 300))
                do {
                    try ids.reserve(id)
                    #expect(model.insert(id).inserted)
                    everHandedOut.insert(id)
                } catch {
                    #expect(error == .alreadyAllocated(id) && model.contains(id))
                }
            case 4:
                // A free that may be wrong: never handed out, already freed, or fine.
                let id = UInt32(rng.next() % 400)
                do {
                    try ids.free(id)
                    #expect(model.remove(id) != nil)
                } catch {
                    #expect(!model.contains(id))
                    #expect([.outOfRange(id), .notAllocated(id), .doubleFree(id)].contains(error))
                }
            default:
                if let id = model.randomElement(using: &rng) {
                    try ids.free(id)
                    model.remove(id)
                }
            }
            #expect(ids.allocatedCount == model.count)
        }
        for id in model { #expect(ids.isAllocated(id)) }
        #expect(!everHandedOut.isEmpty)
    }

    @Test func smallestFreeIdAcrossBitmapWords() throws {
        // One summary word covers 4096 ids: move the search hint up, then free below it.
        var ids = IdAllocator(0...9999)
        for _ in 0..<9000 { _ = try ids.allocate() }
        try ids.free(8500)
        try ids.free(5000)
        #expect(try ids.allocate() == 5000)
        #expect(try ids.allocate() == 8500)
        try ids.free(7)
        try ids.free(4096)
        try ids.free(4095)
        #expect(try ids.allocate() == 7)
        #expect(try ids.allocate() == 4095)
        #expect(try ids.allocate() == 4096)
        #expect(try ids.allocate() == 9000)
        try ids.reserve(9999)
        #expect(try (0..<998).map { _ in try ids.allocate() } == Array(9001...9998))
        #expect(throws: IdAllocatorError.exhausted) { try ids.allocate() }
        try ids.free(9999)  // the top: hands back 9999 only
        #expect(ids.allocatedCount == 9999)
    }

    @Test func codableRoundTripAndValidation() throws {
        var ids = IdAllocator(0...63)
        for _ in 0..<10 { _ = try ids.allocate() }
        try ids.free(3)
        try ids.free(5)
        var copy = try JSONDecoder().decode(IdAllocator.self, from: JSONEncoder().encode(ids))
        #expect(copy == ids)
        #expect(try copy.allocate() == 3)
        let bad = #"{"first":0,"last":63,"next":10,"free":[3,3]}"#
        #expect {
            try JSONDecoder().decode(IdAllocator.self, from: Data(bad.utf8))
        } throws: { error in
            Self.isDataCorrupted(error, at: ["free"], "invalid free id 3")  // the second 3
        }
        let beyond = #"{"first":0,"last":63,"next":10,"free":[12]}"#
        #expect {
            try JSONDecoder().decode(IdAllocator.self, from: Data(beyond.utf8))
        } throws: { error in
            Self.isDataCorrupted(error, at: ["free"], "invalid free id 12")  // not below next
        }
    }
}
