import BlockStorage
import Foundation
import TestSupport
import Testing

@testable import VHD

/// Creating and converting never lose data: a call that fails — bad options, a missing or
/// non-VHD parent, a source that fails part-way, a destination that cannot be replaced —
/// leaves every existing file byte for byte as it was and no new or temporary file behind;
/// a convert refuses a destination that is its own source or a parent of it under any name.
@Suite struct NewFileSafetyTests {
    /// Every entry of the directory, hidden ones included.
    func entries(_ dir: TemporaryDirectory) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
    }

    /// An 8 MiB dynamic image with data at 1 MiB: the file a failed command must not touch.
    func keeper(_ dir: TemporaryDirectory, _ name: String = "keep.vhd") throws -> (path: String, bytes: [UInt8]) {
        let path = dir.file(name)
        let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .dynamic, size: 8 << 20))
        try image.write(pattern(65536, seed: 21), at: 1 << 20)
        try image.flush()
        return (path, try readFile(path))
    }

    @Test func createWithBadOptionsLeavesTheOldFileAndNoOther() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try keeper(dir)
        let before = try entries(dir)
        var badSize = VHDCreateOptions(type: .dynamic, size: 100)
        #expect(throws: VHDError.invalidRequest("disk size 100 is not a multiple of 512 bytes")) {
            try VHDImage.create(path: path, options: badSize)
        }
        badSize = VHDCreateOptions(type: .dynamic, size: 1 << 20)
        badSize.blockSize = 3000
        #expect(throws: VHDError.invalidRequest("block size 3000 is not a power of two from 512 bytes to 1 GiB")) {
            try VHDImage.create(path: path, options: badSize)
        }
        #expect(try readFile(path) == bytes, "the existing image is byte-identical")
        #expect(try entries(dir) == before, "no temporary or new file left behind")
        #expect(throws: VHDError.invalidRequest("disk size 0 is outside 512 bytes…2040 GiB")) {
            try VHDImage.create(path: dir.file("new.vhd"), options: VHDCreateOptions(type: .fixed, size: 0))
        }
        #expect(try entries(dir) == before, "a new path gets no empty file")
    }

    @Test func differencingWithAMissingOrNonVHDParentLeavesTheOldFile() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try keeper(dir)
        try writeFile(dir.file("notes.txt"), Array("just some text, not a disk image at all\n".utf8))
        let before = try entries(dir)
        for (parent, refusal) in [
            (dir.file("missing.vhd"), VHDError.device(.io(operation: "open", errno: .noSuchFileOrDirectory))),
            (dir.file("notes.txt"), VHDError.truncated(structure: "footer", needed: 512, fileSize: 40)),
        ] {
            #expect(throws: refusal, "\(parent)") {
                try VHDImage.createDifferencing(path: path, parentPath: parent)
            }
            #expect(throws: refusal, "\(parent)") {
                try VHDImage.createDifferencing(path: dir.file("child.vhd"), parentPath: parent)
            }
        }
        #expect(try readFile(path) == bytes)
        #expect(try entries(dir) == before)
    }

    @Test func createReplacesAnExistingFileOnlyWhenComplete() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try keeper(dir)
        let before = try entries(dir)
        do {
            let replaced = try VHDImage.create(path: path, options: VHDCreateOptions(type: .fixed, size: 1 << 20))
            #expect(replaced.diskType == .fixed && replaced.capacity == 1 << 20)
        }
        #expect(try VHDImage.open(path: path, readOnly: true).diskType == .fixed)
        #expect(try entries(dir) == before, "the new image took the old one's name; nothing else appeared")
    }

    /// A source that fails after `limit` bytes: a convert reading it fails part-way.
    final class FailingSource: BlockDevice {
        let inner: any BlockDevice
        let limit: UInt64
        init(_ inner: any BlockDevice, failingAfter limit: UInt64) {
            self.inner = inner
            self.limit = limit
        }
        var logicalSectorSize: Int { 512 }
        var capacity: UInt64 { inner.capacity }
        var isReadOnly: Bool { true }
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
            if offset + UInt64(buffer.count) > limit { throw .io(operation: "pread", errno: .ioError) }
            try inner.read(into: buffer, at: offset)
        }
        func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) { throw .readOnly }
        func flush() throws(BlockDeviceError) {}
        func discard(offset: UInt64, length: UInt64) throws(BlockDeviceError) { throw .readOnly }
        func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
            var position = offset
            for buffer in buffers {
                try read(into: buffer, at: position)
                position += UInt64(buffer.count)
            }
        }
        func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
            throw .readOnly
        }
    }

    @Test(arguments: [ImageFormat.raw, .fixed, .dynamic])
    func aConvertThatFailsPartWayLeavesTheDestinationAsItWas(to format: ImageFormat) throws {
        let dir = try TemporaryDirectory()
        let (source, _) = try keeper(dir, "source.vhd")
        let (destination, bytes) = try keeper(dir, "destination.vhd")
        let before = try entries(dir)
        let failing = FailingSource(try VHDImage.open(path: source, readOnly: true), failingAfter: 3 << 20)
        #expect(throws: VHDError.device(.io(operation: "pread", errno: .ioError))) {
            try convertImage(source: failing, destination: destination, to: format)
        }
        #expect(throws: VHDError.device(.io(operation: "pread", errno: .ioError))) {
            try convertImage(source: failing, destination: dir.file("fresh.img"), to: format)
        }
        #expect(try readFile(destination) == bytes)
        #expect(try entries(dir) == before, "no partial image, no temporary file")
    }

    @Test func aDestinationThatCannotBeReplacedIsLeftAndTheTemporaryFileRemoved() throws {
        let dir = try TemporaryDirectory()
        let (source, _) = try keeper(dir, "source.vhd")
        try FileManager.default.createDirectory(atPath: dir.file("occupied"), withIntermediateDirectories: false)
        try writeFile(dir.file("occupied/inside"), [1, 2, 3])
        let before = try entries(dir)
        // rename(2) of a file over a non-empty directory fails (EISDIR): the last step fails.
        let image = try VHDImage.open(path: source, readOnly: true)
        #expect {
            try convertImage(source: image, destination: dir.file("occupied"), to: .raw)
        } throws: { error in
            guard case .device(.io(let operation, let errno)) = error as? VHDError else { return false }
            return operation.hasPrefix("rename ") && errno == .isDirectory
        }
        #expect(try entries(dir) == before)
        #expect(try readFile(dir.file("occupied/inside")) == [1, 2, 3])
    }

    @Test func convertRefusesItsOwnSourceUnderAnyName() throws {
        let dir = try TemporaryDirectory()
        let (base, baseBytes) = try keeper(dir, "base.vhd")
        let child = dir.file("child.vhd")
        do {
            let childImage = try VHDImage.createDifferencing(path: child, parentPath: base)
            try childImage.write(pattern(4096, seed: 22), at: 0)
            try childImage.flush()
        }
        let childBytes = try readFile(child)
        try FileManager.default.createSymbolicLink(atPath: dir.file("link.vhd"), withDestinationPath: child)
        try FileManager.default.linkItem(atPath: child, toPath: dir.file("hard.vhd"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("base-link.vhd"), withDestinationPath: base)
        for destination in ["child.vhd", "./child.vhd", "link.vhd", "hard.vhd", "base.vhd", "base-link.vhd"] {
            let target = dir.file(destination)
            #expect(
                throws: VHDError.invalidRequest(
                    "\(target) is the source image or one of its parents: refusing to overwrite it"),
                "\(destination)"
            ) {
                try convertImage(
                    source: try VHDImage.open(path: child, readOnly: true), destination: target, to: .dynamic)
            }
        }
        #expect(try readFile(child) == childBytes)
        #expect(try readFile(base) == baseBytes)
    }
}
