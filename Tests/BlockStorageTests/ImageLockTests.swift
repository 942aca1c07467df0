import BlockStorage
import Foundation
import HostSupport
import SystemPackage
import TestSupport
import Testing

/// Image locking, QEMU's scheme: any number of readers share an image; a writer excludes
/// readers and writers and is excluded by them — between two opens in one process as between
/// processes; a force-share reader coexists with a writer; `.off` neither takes nor checks a
/// lock; closing an image releases its locks. A refused open changes nothing: a truncating open
/// of an image in use leaves its bytes, and `writeNewFile` does not replace a file in use.
@Suite struct ImageLockTests {
    /// A 64 KiB raw image filled with a pattern; returns its path and bytes.
    func image(_ dir: TemporaryDirectory, _ name: String = "disk.img") throws -> (String, [UInt8]) {
        let path = dir.file(name)
        let bytes = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        do {
            let image = try RawImage(creating: path, size: UInt64(bytes.count))
            try image.write(bytes, at: 0)
            try image.flush()
        }
        return (path, bytes)
    }

    /// The conflict a refused open reports (fails the test for any other outcome).
    func conflict(_ body: () throws(BlockDeviceError) -> Void) -> ImageLockConflict? {
        do {
            try body()
            Issue.record("the open succeeded; expected it to be refused as locked")
        } catch {
            guard case .locked(let conflict) = error else {
                Issue.record("expected .locked, got \(error)")
                return nil
            }
            return conflict
        }
        return nil
    }

    @Test func aWriterExcludesASecondWriterAndAReader() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try image(dir)
        let writer = try RawImage(path: path)
        let second = conflict { () throws(BlockDeviceError) in _ = try RawImage(path: path) }
        // The second writer needs "write", which the first does not share.
        #expect(second?.path == path && second?.permission == .write && second?.needed == true)
        #expect(second?.holders.map(\.processID) == [getpid()])
        #expect(
            second?.description == "image is in use: another open of it does not share \"write\" (held by this process)"
        )
        let reader = conflict { () throws(BlockDeviceError) in _ = try RawImage(path: path, readOnly: true) }
        // The reader will not share "write", which the writer holds.
        #expect(reader?.permission == .write && reader?.needed == false)
        #expect(reader?.description == "image is in use: another open of it holds \"write\" (held by this process)")
        #expect(
            BlockDeviceError.locked(try #require(reader)).description == reader?.description,
            "the device error says the same")
        withExtendedLifetime(writer) {}
    }

    @Test func readersShareAndExcludeAWriter() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try image(dir)
        let first = try RawImage(path: path, readOnly: true)
        let second = try RawImage(path: path, readOnly: true)
        #expect(try first.read(at: 0, length: 512) == Array(bytes[0..<512]))
        #expect(try second.read(at: 512, length: 512) == Array(bytes[512..<1024]))
        let writer = conflict { () throws(BlockDeviceError) in _ = try RawImage(path: path) }
        #expect(writer?.permission == .write && writer?.needed == true)
    }

    @Test func aForceShareReaderCoexistsWithAWriterAndSeesItsWrites() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try image(dir)
        let writer = try RawImage(path: path)
        let inspector = try RawImage(path: path, readOnly: true, locking: .forceShare)
        try writer.write([1, 2, 3], at: 4096)
        #expect(try inspector.read(at: 4096, length: 3) == [1, 2, 3])
        // And the other way round: a writer opens beside a force-share reader.
        let (other, _) = try image(dir, "other.img")
        let early = try RawImage(path: other, readOnly: true, locking: .forceShare)
        let late = try RawImage(path: other)
        #expect(early.capacity == late.capacity)
        // A writable open asked to force-share is still exclusive.
        let exclusive = conflict { () throws(BlockDeviceError) in
            _ = try RawImage(path: path, readOnly: false, locking: .forceShare)
        }
        #expect(exclusive?.permission == .write)
    }

    @Test func offNeitherTakesNorChecksALock() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try image(dir)
        let writer = try RawImage(path: path)
        let unlocked = try RawImage(path: path, locking: .off)
        try unlocked.write([9], at: 0)
        // Nothing taken by the unlocked open: once the writer goes, a writer opens beside it.
        _ = consume writer
        _ = try RawImage(path: path)
        withExtendedLifetime(unlocked) {}
    }

    @Test func closingAnImageReleasesItsLocks() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try image(dir)
        for _ in 0..<3 {
            let writer = try RawImage(path: path)
            try writer.write([7], at: 0)
        }
        do {
            let reader = try RawImage(path: path, readOnly: true)
            #expect(reader.capacity == 65536)
        }
        _ = try RawImage(path: path)
    }

    @Test func aTruncatingOpenOfAnImageInUseLeavesItsBytes() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try image(dir)
        let reader = try RawImage(path: path, readOnly: true)
        let refused = conflict { () throws(BlockDeviceError) in
            _ = try FileImageIO(path: path, readOnly: false, create: true, truncate: true)
        }
        #expect(refused?.permission == .write)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
        withExtendedLifetime(reader) {}
    }

    @Test func writeNewFileDoesNotReplaceAFileInUse() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try image(dir)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        for readOnly in [true, false] {
            let user = try RawImage(path: path, readOnly: readOnly)
            var bodyRan = false
            let refused = conflict { () throws(BlockDeviceError) in
                try writeNewFile(at: path, mapError: { $0 }) { (temporary) throws(BlockDeviceError) in
                    bodyRan = true
                    try RawImage(creating: temporary, size: 512).write([1], at: 0)
                }
            }
            #expect(
                refused?.path == path && refused?.permission == .write, "held by a \(readOnly ? "reader" : "writer")")
            #expect(!bodyRan, "refused before anything was written")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == before)
            withExtendedLifetime(user) {}
        }
        // Not in use: replaced; and `.off` replaces without looking.
        try writeNewFile(at: path, mapError: { $0 }) { (temporary) throws(BlockDeviceError) in
            _ = try RawImage(creating: temporary, size: 1024)
        }
        #expect(try RawImage(path: path, readOnly: true).capacity == 1024)
        let user = try RawImage(path: path)
        try writeNewFile(at: path, locking: .off, mapError: { $0 }) { (temporary) throws(BlockDeviceError) in
            _ = try RawImage(creating: temporary, size: 2048)
        }
        #expect(
            try RawImage(path: path, readOnly: true).capacity == 2048,
            "a new file: the old open's lock stays on the old one")
        withExtendedLifetime(user) {}
    }
}
