import BlockStorage
import SystemPackage
import TestSupport
import Testing

/// A raw image is its file: bytes written at an offset are the file's bytes there, the capacity
/// is the file size in whole sectors, requests past the end and writes to a read-only image are
/// refused with the exact error and change nothing.
@Suite struct RawImageTests {
    @Test func bytesWrittenAreTheFilesBytes() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("disk.img")
        do {
            let image = try RawImage(creating: path, size: 8192)
            #expect(image.capacity == 8192 && image.sectorCount == 16)
            try image.write([1, 2, 3, 4], at: 1000)
            try image.flush()
        }
        let file = try FileImageIO(path: path, readOnly: true)
        #expect(try file.readBytes(at: 998, count: 8) == [0, 0, 1, 2, 3, 4, 0, 0])
        #expect(try file.size() == 8192)
    }

    @Test func capacityIsTheFileSizeInWholeSectors() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("odd.img")
        try FileImageIO(path: path, readOnly: false, create: true).truncate(to: 1500)
        #expect(try RawImage(path: path).capacity == 1024)
    }

    @Test func outOfRangeAndReadOnlyAreRefusedAndChangeNothing() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("disk.img")
        do {
            let image = try RawImage(creating: path, size: 4096)
            #expect(throws: BlockDeviceError.outOfRange(offset: 4095, length: 2, capacity: 4096)) {
                try image.write([9, 9], at: 4095)
            }
            #expect(throws: BlockDeviceError.outOfRange(offset: UInt64.max, length: 1, capacity: 4096)) {
                try image.read(at: UInt64.max, length: 1)
            }
        }
        let readOnly = try RawImage(path: path, readOnly: true)
        #expect(throws: BlockDeviceError.readOnly) { try readOnly.write([9], at: 0) }
        #expect(try readOnly.read(at: 4088, length: 8) == [UInt8](repeating: 0, count: 8))
        #expect(throws: BlockDeviceError.outOfRange(offset: 0, length: 100, capacity: 0)) {
            try RawImage(creating: dir.file("bad.img"), size: 100)
        }
    }
}
