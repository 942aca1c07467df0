import Foundation
import TestSupport
import Testing

@testable import VHD

/// The `vhd` tool's maintenance commands as a user runs them, judged by third-party tools
/// rather than by this package's own reader: `compact` releases a block of zeros and shrinks
/// the file, `resize` grows the disk by a relative size, `check --repair` restores a damaged
/// footer, `create --align-mib` rounds a fixed disk up to whole MiB, and `info` agrees with
/// `qemu-img info` and libvhdi's `vhdiinfo` on the sizes, type and ids.
@Suite(
    .enabled(if: ToolTests.tool != nil, "vhd executable not found next to the test bundle"),
    .enabled(if: ToolCheck.qemuImg, "qemu-img not installed (the oracle of these tests)"))
struct ToolMaintenanceTests {
    /// `qemu-img info --output=json` of `path`.
    static func qemuInfo(_ path: String) throws -> [String: Any] {
        let output = try run("qemu-img", ["info", "-f", "vpc", "--output=json", path])
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    static func fileSize(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    @Test func compactReleasesABlockOfZerosAndShrinksTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("c.vhd")
        #expect(try ToolTests.vhd(["create", path, "--size", "8M", "--block-size", "1M"]).status == 0)
        var model = [UInt8](repeating: 0, count: 8 << 20)
        for (offset, seed) in [(0, 1), (3 << 20, 2), (6 << 20, 3)] {
            let data = pattern(1 << 20, seed: UInt64(seed))
            #expect(try ToolTests.vhd(["write", path, "--offset", "\(offset)"], stdin: data).status == 0)
            model.replaceSubrange(offset..<offset + data.count, with: data)
        }
        // The guest zeroes the middle block: stored, but all zeros.
        #expect(
            try ToolTests.vhd(["write", path, "--offset", "3M"], stdin: [UInt8](repeating: 0, count: 1 << 20)).status
                == 0)
        model.replaceSubrange((3 << 20)..<(4 << 20), with: [UInt8](repeating: 0, count: 1 << 20))
        let before = try Self.fileSize(path)
        let result = try ToolTests.vhd(["compact", path, "-q"])
        #expect(result.status == 0, "\(result.standardError)")
        // One block of 1 MiB and its 512-byte bitmap fewer (at least; alignment padding may go too).
        #expect(try Self.fileSize(path) <= before - (1 << 20) - 512, "the file shrank")
        try InteropTests.qemuCompare(path, with: model, in: dir)
        let map = try ToolTests.json(ToolTests.vhd(["map", path, "--json"]))
        let offsets = try #require(map["extents"] as? [[String: Any]]).compactMap { $0["offset"] as? Int }
        #expect(offsets == [0, 6 << 20], "the zeroed block is no longer stored")
        #expect(try ToolTests.vhd(["check", path]).status == 0)
    }

    @Test func resizeGrowsByARelativeSizeAsQemuSeesIt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("r.vhd")
        #expect(try ToolTests.vhd(["create", path, "--size", "10M"]).status == 0)
        let tail = pattern(4096, seed: 4)
        #expect(try ToolTests.vhd(["write", path, "--offset", "\((10 << 20) - 4096)"], stdin: tail).status == 0)
        #expect(try ToolTests.vhd(["resize", path, "+6M"]).status == 0)
        #expect(try Self.qemuInfo(path)["virtual-size"] as? Int == 16 << 20)
        var model = [UInt8](repeating: 0, count: 16 << 20)
        model.replaceSubrange((10 << 20) - 4096..<(10 << 20), with: tail)
        #expect(try ToolTests.vhd(["write", path, "--offset", "15M"], stdin: tail).status == 0)
        model.replaceSubrange((15 << 20)..<(15 << 20) + 4096, with: tail)
        try InteropTests.qemuCompare(path, with: model, in: dir)
        #expect(try ToolTests.vhd(["resize", path, "-2M"]).status == 1, "data is stored past 14 MiB")
        #expect(try Self.qemuInfo(path)["virtual-size"] as? Int == 16 << 20, "a refused shrink changes nothing")
    }

    @Test func checkRepairRestoresADamagedFooter() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("f.vhd")
        #expect(try ToolTests.vhd(["create", path, "--size", "4M"]).status == 0)
        let data = pattern(8192, seed: 5)
        #expect(try ToolTests.vhd(["write", path, "--offset", "1M"], stdin: data).status == 0)
        try BadInputTests.edit(path) { $0.bytes[$0.footerAt + 64] ^= 0xFF }  // the trailing footer's checksum
        let damaged = try ToolTests.vhd(["check", path])
        #expect(damaged.status == 1)
        #expect(damaged.standardError.contains("footer.checksum"), "\(damaged.standardError)")
        let repaired = try ToolTests.vhd(["check", path, "--repair", "--json"])
        #expect(repaired.status == 0, "\(repaired.standardError)")
        let report = try ToolTests.json(repaired)
        #expect(report["clean"] as? Bool == true)
        #expect((report["lost"] as? [Any])?.isEmpty == true, "restoring a footer loses nothing")
        var model = [UInt8](repeating: 0, count: 4 << 20)
        model.replaceSubrange((1 << 20)..<(1 << 20) + data.count, with: data)
        try InteropTests.qemuCompare(path, with: model, in: dir)
        try withOracle(ToolCheck.vhdiinfo, "libvhdi (vhdiinfo)") { () throws in
            #expect(String(decoding: try run("vhdiinfo", [path]), as: UTF8.self).contains("(4194304 bytes)"))
        }
    }

    @Test func alignMiBRoundsAFixedDiskUpToWholeMiB() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("a.vhd")
        let result = try ToolTests.vhd([
            "create", path, "--size", "\((5 << 20) + 512)", "--type", "fixed", "--align-mib",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try Self.qemuInfo(path)["virtual-size"] as? Int == 6 << 20)
        #expect(try Self.fileSize(path) == (6 << 20) + 512)
        #expect(try ToolTests.vhd(["check", path]).status == 0)
    }

    /// `vhd info` against the two other readers, for a dynamic parent and its child.
    @Test func infoAgreesWithQemuAndLibvhdi() throws {
        let dir = try TemporaryDirectory()
        let parent = dir.file("p.vhd"), child = dir.file("c.vhd")
        #expect(try ToolTests.vhd(["create", parent, "--size", "6M", "--block-size", "1M"]).status == 0)
        #expect(try ToolTests.vhd(["create", child, "--parent", parent]).status == 0)
        for path in [parent, child] {
            let ours = try ToolTests.json(ToolTests.vhd(["info", path, "--json"]))
            let qemu = try Self.qemuInfo(path)
            #expect(ours["virtualSize"] as? Int == qemu["virtual-size"] as? Int)
            #expect(ours["blockSize"] as? Int == qemu["cluster-size"] as? Int)
            try withOracle(ToolCheck.vhdiinfo, "libvhdi (vhdiinfo)") { () throws in
                let text = String(decoding: try run("vhdiinfo", [path]), as: UTF8.self)
                let id = try #require(ours["uniqueId"] as? String)
                #expect(text.contains("Identifier\t\t: \(id)"), "\(text)")
                #expect(text.contains("Disk type\t\t: \(path == child ? "Differential" : "Dynamic")"), "\(text)")
                #expect(text.contains("(\(6 << 20) bytes)"), "\(text)")
                if path == child {
                    let parentID = try #require(ours["parentUniqueId"] as? String)
                    #expect(text.contains("Parent identifier\t: \(parentID)"), "\(text)")
                }
            }
        }
    }
}
