import Foundation
import Testing
@testable import ResourceAllocator

@Suite struct IdAllocatorTests {
    private func error(_ body: () throws -> Void) -> IdAllocatorError? {
        do { try body(); return nil } catch { return error as? IdAllocatorError }
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
        var rng = SeededGenerator(seed: 7)
        var ids = IdAllocator(10...200)
        var model = Set<UInt32>()
        for _ in 0..<20_000 {
            if rng.next() % 2 == 0 {
                let expected = (UInt32(10)...200).first { !model.contains($0) }
                do {
                    let id = try ids.allocate()
                    #expect(id == expected)
                    model.insert(id)
                } catch {
                    #expect(expected == nil && error == .exhausted)
                }
            } else if rng.next() % 4 == 0 {
                let id = UInt32(10 + rng.next() % 191)
                do {
                    try ids.reserve(id)
                    #expect(model.insert(id).inserted)
                } catch {
                    #expect(error == .alreadyAllocated(id) && model.contains(id))
                }
            } else if let id = model.randomElement(using: &rng) {
                try ids.free(id)
                model.remove(id)
            }
            #expect(ids.allocatedCount == model.count)
        }
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
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(IdAllocator.self, from: Data(bad.utf8)) }
        let beyond = #"{"first":0,"last":63,"next":10,"free":[12]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(IdAllocator.self, from: Data(beyond.utf8)) }
    }
}
