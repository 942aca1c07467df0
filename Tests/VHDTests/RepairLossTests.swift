import Foundation
import TestSupport
import Testing

@testable import VHD

/// A repair tells the truth: dropping a BAT entry reports exactly the disk ranges whose data
/// goes (the sectors its bitmap marked, or the whole block when the bitmap is past the end of
/// the file), the rest of the disk reads as before, and the tool exits 1 listing them, in text
/// and in `--json`; a repair that loses nothing reports nothing lost and exits 0.
@Suite struct RepairLossTests {
    static let block2Data = (4 << 20) + 512

    /// An 8 MiB dynamic image (2 MiB blocks) with 64 KiB in block 0 and 4 KiB in block 2, and
    /// the file offset of block 2's bitmap (from the BAT on disk: entry 2 at 1536 + 8).
    func image(_ dir: TemporaryDirectory, _ name: String) throws -> (path: String, bitmap: Int) {
        let path = dir.file(name)
        let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .dynamic, size: 8 << 20))
        try image.write(pattern(65536, seed: 41), at: 1 << 20)
        try image.write(pattern(4096, seed: 42), at: UInt64(Self.block2Data))
        try image.flush()
        let bytes = try readFile(path)
        let entry = bytes[1544..<1548].reduce(0) { $0 << 8 | Int($1) }
        return (path, entry * 512)
    }

    /// Cuts the file in the middle of block 2's data: its bitmap stays readable.
    func cutBlock2Short(_ path: String, bitmap: Int) throws {
        try writeFile(path, Array(try readFile(path)[..<(bitmap + 512 + (1 << 20))]))
    }

    @Test func aBlockCutShortLosesExactlyTheSectorsItsBitmapMarked() throws {
        let dir = try TemporaryDirectory()
        let (path, bitmap) = try image(dir, "cut.vhd")
        try cutBlock2Short(path, bitmap: bitmap)
        let report = try VHDImage.check(path: path, repair: true)
        #expect(report.lost == [VHDDiskRange(offset: UInt64(Self.block2Data), length: 4096)])
        #expect(report.isClean, "\(report.problems)")
        let repaired = try VHDImage.open(path: path, readOnly: true)
        #expect(try repaired.read(at: 1 << 20, length: 65536) == pattern(65536, seed: 41), "block 0 kept")
        #expect(try repaired.read(at: UInt64(Self.block2Data), length: 4096) == [UInt8](repeating: 0, count: 4096))
        #expect(
            VHDDiskRange(offset: UInt64(Self.block2Data), length: 4096).description == "0x400200-0x4011ff (4096 bytes)")
    }

    @Test func aBitmapPastTheEndLosesTheWholeBlock() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try image(dir, "far.vhd")
        var bytes = try readFile(path)
        bytes.replaceSubrange(1544..<1548, with: [0x00, 0xFF, 0xFF, 0xF0])  // bat[2] far past the end
        try writeFile(path, bytes)
        let report = try VHDImage.check(path: path, repair: true)
        #expect(report.lost == [VHDDiskRange(offset: 4 << 20, length: 2 << 20)])
        #expect(
            try VHDImage.open(path: path, readOnly: true).read(at: 1 << 20, length: 65536) == pattern(65536, seed: 41))
    }

    @Test func aRepairThatLosesNothingReportsNothingLost() throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try image(dir, "copy.vhd")
        var bytes = try readFile(path)
        bytes[100] ^= 0xFF  // the footer copy's checksum fails; the trailing footer is intact
        try writeFile(path, bytes)
        let report = try VHDImage.check(path: path, repair: true)
        #expect(!report.repaired.isEmpty)
        #expect(report.lost.isEmpty)
        #expect(report.isClean)
    }

    @Test(.enabled(if: ToolTests.tool != nil, "vhd executable not found next to the test bundle"))
    func theToolListsTheLostRangesAndExits1() throws {
        let dir = try TemporaryDirectory()
        let (text, bitmap) = try image(dir, "text.vhd")
        try cutBlock2Short(text, bitmap: bitmap)
        let result = try ToolTests.vhd(["check", text, "--repair"])
        #expect(result.status == 1)
        let output = String(decoding: result.standardOutput, as: UTF8.self)
        #expect(output.contains("\(text): data lost: disk bytes 0x400200-0x4011ff (4096 bytes)"), "\(output)")
        #expect(result.standardError.contains("the repair dropped 4096 bytes of disk data in 1 range"))

        let (json, bitmap2) = try image(dir, "json.vhd")
        try cutBlock2Short(json, bitmap: bitmap2)
        let jsonResult = try ToolTests.vhd(["check", json, "--repair", "--json"])
        #expect(jsonResult.status == 1)
        let document = try ToolTests.json(jsonResult)
        let lost = try #require(document["lost"] as? [[String: Any]])
        #expect(lost.count == 1)
        #expect(lost.first?["offset"] as? Int == Self.block2Data && lost.first?["length"] as? Int == 4096)

        let (clean, _) = try image(dir, "clean.vhd")
        let cleanResult = try ToolTests.vhd(["check", clean, "--repair", "--json"])
        #expect(cleanResult.status == 0)
        #expect((try ToolTests.json(cleanResult)["lost"] as? [Any])?.isEmpty == true)
    }
}
