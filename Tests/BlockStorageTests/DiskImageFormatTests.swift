import BlockStorage
import SystemPackage
import TestSupport
import Testing

/// Opening by format: a named format opens the file whatever its bytes, an unknown name is
/// refused with the names known, probing takes the first format that recognises the file (so
/// raw, which recognises every file, only catches what nothing else claims), a format's refusal
/// is reported as that format's error naming the file, and a missing file is an I/O error.
@Suite struct DiskImageFormatTests {
    /// A toy format: a file that starts with `TOYDISK!` is one; it opens as a raw image.
    struct ToyFormat: DiskImageFormat {
        struct Refused: Error, Sendable {}
        var refuses = false
        var name: String { "toy" }
        func recognizes(_ io: any ImageIO, size: UInt64) throws(BlockDeviceError) -> Bool {
            guard size >= 8 else { return false }
            return try io.readBytes(at: 0, count: 8) == Array("TOYDISK!".utf8)
        }
        func open(path: String, readOnly: Bool, locking: ImageLocking) throws(DiskImageError) -> any BlockDevice {
            if refuses { throw .format(name: name, path: path, reason: Refused()) }
            return try RawDiskImageFormat().open(path: path, readOnly: readOnly, locking: locking)
        }
    }

    func file(_ dir: TemporaryDirectory, _ name: String, startingWith prefix: String) throws -> String {
        let path = dir.file(name)
        let image = try RawImage(creating: path, size: 4096)
        try image.write(Array(prefix.utf8) + [UInt8](repeating: 0, count: 512 - prefix.utf8.count), at: 0)
        return path
    }

    @Test func probingTakesTheFirstFormatThatRecognisesTheFile() throws {
        let dir = try TemporaryDirectory()
        let toy = try file(dir, "toy.img", startingWith: "TOYDISK!")
        let plain = try file(dir, "plain.img", startingWith: "hello")
        let formats: [any DiskImageFormat] = [ToyFormat(), RawDiskImageFormat()]
        let opened = try openDiskImage(path: toy, among: formats)
        #expect(opened.capacity == 4096)
        // The toy format opened it (its refusing twin proves which format was asked).
        #expect {
            try openDiskImage(path: toy, among: [ToyFormat(refuses: true), RawDiskImageFormat()])
        } throws: { error in
            guard case .format(let name, let path, _) = error as? DiskImageError else { return false }
            return name == "toy" && path == toy
        }
        // A file nothing else claims falls through to raw, even when the toy format refuses all.
        let raw = try openDiskImage(path: plain, among: [ToyFormat(refuses: true), RawDiskImageFormat()])
        #expect(try raw.read(at: 0, length: 5) == Array("hello".utf8))
    }

    @Test func aNamedFormatOpensTheFileWhateverItsBytes() throws {
        let dir = try TemporaryDirectory()
        let toy = try file(dir, "toy.img", startingWith: "TOYDISK!")
        let formats: [any DiskImageFormat] = [ToyFormat(refuses: true), RawDiskImageFormat()]
        let raw = try openDiskImage(path: toy, format: "raw", among: formats)
        #expect(try raw.read(at: 0, length: 8) == Array("TOYDISK!".utf8), "read as raw, signature and all")
        #expect(raw.isReadOnly, "read-only unless asked")
        #expect {
            try openDiskImage(path: toy, format: "qcow2", among: formats)
        } throws: { error in
            guard case .unknownFormat(let name, let known) = error as? DiskImageError else { return false }
            return name == "qcow2" && known == ["toy", "raw"]
        }
    }

    @Test func withoutRawAnUnclaimedFileIsUnrecognised() throws {
        let dir = try TemporaryDirectory()
        let plain = try file(dir, "plain.img", startingWith: "hello")
        #expect {
            try openDiskImage(path: plain, among: [ToyFormat()])
        } throws: { error in
            guard case .unrecognized(let path, let tried) = error as? DiskImageError else { return false }
            return path == plain && tried == ["toy"]
        }
    }

    @Test func aMissingFileIsAnIOErrorNamingIt() throws {
        let dir = try TemporaryDirectory()
        let missing = dir.file("missing.img")
        for format in [nil, "raw"] as [String?] {
            #expect {
                try openDiskImage(path: missing, format: format, among: [RawDiskImageFormat()])
            } throws: { error in
                guard case .io(let path, .io(_, let errno)) = error as? DiskImageError else { return false }
                return path == missing && errno == .noSuchFileOrDirectory
            }
        }
        #expect(
            DiskImageError.io(path: missing, .io(operation: "open", errno: .noSuchFileOrDirectory)).description
                .hasPrefix(missing + ": "))
    }
}
