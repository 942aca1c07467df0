import Foundation
import TestSupport
import Testing

@testable import BlockStorage
@testable import VHD

/// Which footer an image is opened by. A dynamic or differencing disk's trailing footer must
/// name the same image as its copy at offset 0 (which no guest write reaches): a last sector
/// that parses as a footer of another image — guest data left at the end of the file by a crash
/// during an allocation — is not taken, so it cannot choose the disk type or a parent; the copy
/// is used and `check --repair` puts the footer back. A fixed disk has no copy: its sector 0 is
/// guest data, never trusted. Found by the fuzz target (a failed write left an image that no
/// longer opened: "parent image not found").
@Suite struct FooterTrustTests {
    /// A footer of a different image, as a guest could write it into a sector: differencing,
    /// pointing at a header, with its own unique id.
    static func foreignFooter(size: UInt64) -> [UInt8] {
        VHDFooter(
            diskType: .differencing, currentSize: size, dataOffset: 512, uniqueID: .random(), timestamp: 0,
            creatorApplication: 0x7769_6E20, creatorVersion: 0x000A_0000, creatorHostOS: 0x5769_326B
        ).serialized()
    }

    /// A dynamic 64 KiB image in 4 KiB blocks with data in its first two blocks; returns the
    /// path and the disk's contents.
    static func image(_ dir: TemporaryDirectory) throws -> (String, [UInt8]) {
        let path = dir.file("d.vhd")
        var options = VHDCreateOptions(type: .dynamic, size: 64 << 10)
        options.blockSize = 4096
        let data = pattern(8192, seed: 61)
        do {
            let image = try VHDImage.create(path: path, options: options)
            try image.write(data, at: 0)
            try image.flush()
        }
        return (path, data + [UInt8](repeating: 0, count: (64 << 10) - 8192))
    }

    @Test func aTrailingFooterNamingAnotherImageIsNotTaken() throws {
        let dir = try TemporaryDirectory()
        let (path, disk) = try Self.image(dir)
        try BadInputTests.edit(path) { e in
            e.bytes.replaceSubrange(e.footerAt..<e.bytes.count, with: Self.foreignFooter(size: 64 << 10))
        }
        do {
            let image = try VHDImage.open(path: path, readOnly: true)
            #expect(image.diskType == .dynamic && image.parentPath == nil)
            #expect(try contents(of: image) == disk)
            #expect(image.openProblems.map { BadInputTests.field($0.error) } == ["footer.uniqueID"])
        }
        let report = try VHDImage.check(path: path)
        #expect(report.problems.count == 1 && report.problems.first?.repair == .restoreTrailingFooter)
        let repaired = try VHDImage.check(path: path, repair: true)
        #expect(repaired.isClean && repaired.lost.isEmpty, "\(repaired.problems)")
        #expect(try contents(of: VHDImage.open(path: path, readOnly: true)) == disk)
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            try InteropTests.qemuCompare(path, with: disk, in: dir)
        }
    }

    /// The fuzz finding's shape: the file ends in a data sector that parses as another image's
    /// footer (a stale tail was cut at the end of the data, then the write that needed room
    /// failed). It still opens as what it was, and a write there works.
    @Test func guestDataThatLooksLikeAFooterAtTheEndIsData() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try Self.image(dir)
        var disk = [UInt8](repeating: 0, count: 64 << 10)
        disk.replaceSubrange(0..<8192, with: pattern(8192, seed: 61))
        // The guest writes a footer-like sector as the last sector of block 1 …
        let fake = Self.foreignFooter(size: 64 << 10)
        do {
            let image = try VHDImage.open(path: path)
            try image.write(fake, at: 8192 - 512)
            try image.flush()
        }
        disk.replaceSubrange(8192 - 512..<8192, with: fake)
        // … and the trailing footer after it is lost, as a crash that cut the tail would leave it.
        try BadInputTests.edit(path) { e in e.bytes.removeLast(512) }
        do {
            let image = try VHDImage.open(path: path)
            #expect(image.diskType == .dynamic)
            #expect(try contents(of: image) == disk)
            try image.write(pattern(4096, seed: 62), at: 32 << 10)
            try image.flush()
        }
        disk.replaceSubrange((32 << 10)..<(36 << 10), with: pattern(4096, seed: 62))
        #expect(try contents(of: VHDImage.open(path: path, readOnly: true)) == disk)
    }

    @Test func aFixedDiskIgnoresAFooterItsGuestWroteAtSectorZero() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("f.vhd")
        let copy = VHDFooter(
            diskType: .dynamic, currentSize: 1 << 20, dataOffset: 512, uniqueID: .random(), timestamp: 0,
            creatorApplication: 0, creatorVersion: 0, creatorHostOS: 0
        ).serialized()
        do {
            let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .fixed, size: 1 << 20))
            try image.write(copy, at: 0)
            try image.flush()
        }
        let image = try VHDImage.open(path: path, readOnly: true)
        #expect(image.diskType == .fixed && image.capacity == 1 << 20)
        #expect(try image.read(at: 0, length: 512) == copy)
        #expect(try VHDImage.check(path: path).isClean)
    }
}
