import BlockStorage
import Foundation
import TestSupport
import Testing

@testable import VHD

/// VHD as a BlockStorage format: the standard list (VHD, then raw) opens a VHD of every type
/// as a VHD and anything else as raw; a file with a footer cookie that is not a valid VHD is
/// reported as VHD's own error, never read as raw; `-f raw` reads the same file as raw; and
/// `openImage(path:as:)` agrees with the registry on every one of these files.
@Suite struct VHDDiskImageFormatTests {
    @Test(arguments: [VHDDiskType.fixed, .dynamic])
    func standardFormatsOpenAVHDAsAVHD(type: VHDDiskType) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("d.vhd")
        do {
            let created = try VHDImage.create(path: path, options: VHDCreateOptions(type: type, size: 1 << 20))
            try created.write(pattern(4096, seed: 11), at: 8192)
            try created.flush()
        }
        let opened = try openDiskImage(path: path, among: VHDDiskImageFormat.standardFormats)
        #expect(opened is VHDImage)
        #expect(opened.capacity == 1 << 20)
        #expect(try opened.read(at: 8192, length: 4096) == pattern(4096, seed: 11))
        #expect(try openImage(path: path) is VHDImage)
    }

    @Test func aPlainFileOpensAsRaw() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("plain.img")
        try writeFile(path, pattern(8192, seed: 12))
        let opened = try openDiskImage(path: path, among: VHDDiskImageFormat.standardFormats)
        #expect(opened is RawImage)
        #expect(try opened.read(at: 0, length: 8192) == pattern(8192, seed: 12))
        #expect(try openImage(path: path) is RawImage)
    }

    /// A raw disk whose last sector holds a footer that does not fit it: the registry names the
    /// VHD format's refusal (with the `VHDError`) and the file, and `format: "raw"` reads it raw.
    @Test func aDamagedVHDIsVHDsErrorUnlessRawIsAskedFor() throws {
        let dir = try TemporaryDirectory()
        let vhd = dir.file("f.vhd"), raw = dir.file("disk.raw")
        _ = try VHDImage.create(path: vhd, options: VHDCreateOptions(type: .fixed, size: 8192))
        let disk = pattern(8192 - 512, seed: 13) + Array(try readFile(vhd).suffix(512))
        try writeFile(raw, disk)
        // The footer claims an 8 KiB disk, which with the footer needs an 8.5 KiB file.
        let tooSmall = VHDError.invalidField(
            field: "footer.currentSize", value: 8192,
            reason: "a fixed disk of this size needs its data and a 512-byte footer, the file has 8192 bytes")
        #expect {
            try openDiskImage(path: raw, among: VHDDiskImageFormat.standardFormats)
        } throws: { error in
            guard case .format(let name, let path, let reason) = error as? DiskImageError else { return false }
            return name == "vhd" && path == raw && (reason as? VHDError) == tooSmall
        }
        #expect(throws: tooSmall) { try openImage(path: raw) }
        let asRaw = try openDiskImage(path: raw, format: "raw", among: VHDDiskImageFormat.standardFormats)
        #expect(try asRaw.read(at: 0, length: 8192) == disk)
    }

    @Test func recognisesTheFooterAtTheEndAtTheStartOrAs511Bytes() throws {
        let dir = try TemporaryDirectory()
        let format = VHDDiskImageFormat()
        let cookie = Array("conectix".utf8)
        for (name, bytes, expected) in [
            ("end", [UInt8](repeating: 0, count: 1024) + cookie + [UInt8](repeating: 0, count: 504), true),
            ("start", cookie + [UInt8](repeating: 0, count: 1528), true),
            ("511", [UInt8](repeating: 0, count: 1024) + cookie + [UInt8](repeating: 0, count: 503), true),
            ("middle", [UInt8](repeating: 0, count: 700) + cookie + [UInt8](repeating: 0, count: 828), false),
            ("short", cookie + [UInt8](repeating: 0, count: 100), false),
        ] {
            let path = dir.file(name)
            try writeFile(path, bytes)
            let io = try FileImageIO(path: path, readOnly: true)
            #expect(try format.recognizes(io, size: io.size()) == expected, "\(name)")
        }
    }
}
