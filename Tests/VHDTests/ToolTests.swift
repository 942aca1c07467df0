import Foundation
import TestSupport
import Testing

@testable import VHD

/// The `vhd` command-line tool, run as a process (it is built with the tests).
@Suite struct ToolTests {
    /// The `vhd` executable next to the test bundle.
    static let tool: String? = builtExecutable(named: "vhd")

    typealias Result = ProcessResult

    static func vhd(_ arguments: [String], stdin: [UInt8] = []) throws -> Result {
        try runProcess(tool!, arguments, input: stdin)
    }

    static func json(_ result: Result) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [String: Any])
    }

    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func createWriteReadInfoMapCheck() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.vhd")
        #expect(try Self.vhd(["create", path, "--size", "4M", "--block-size", "1M"]).status == 0)
        let data = pattern(3000, seed: 1)
        #expect(try Self.vhd(["write", path, "--offset", "1K"], stdin: data).status == 0)
        let read = try Self.vhd(["read", path, "--offset", "1K", "--length", "3000"])
        #expect(read.status == 0 && read.standardOutput == data)

        let info = try Self.json(Self.vhd(["info", path, "--json"]))
        #expect(info["type"] as? String == "dynamic")
        #expect(info["virtualSize"] as? Int == 4 << 20)
        #expect(info["blockSize"] as? Int == 1 << 20)
        #expect(
            info["uniqueId"] as? String == (try VHDImage.open(path: path, readOnly: true)).footer.uniqueID.description)
        #expect(info["parentPath"] is NSNull)

        let map = try Self.json(Self.vhd(["map", path, "--json"]))
        let extents = try #require(map["extents"] as? [[String: Any]])
        #expect(extents.count == 1 && extents[0]["offset"] as? Int == 1024 && extents[0]["length"] as? Int == 3072)

        let check = try Self.vhd(["check", path, "--json"])
        #expect(check.status == 0)
        #expect(try Self.json(check)["clean"] as? Bool == true)
    }

    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func differencingInfoConvertAndCommit() throws {
        let dir = try TemporaryDirectory()
        #expect(try Self.vhd(["create", dir.file("p.vhd"), "--size", "2M", "--type", "fixed"]).status == 0)
        #expect(try Self.vhd(["create", dir.file("c.vhd"), "--parent", dir.file("p.vhd")]).status == 0)
        #expect(try Self.vhd(["write", dir.file("c.vhd"), "--offset", "1M"], stdin: pattern(100, seed: 2)).status == 0)
        let info = try Self.json(Self.vhd(["info", dir.file("c.vhd"), "--json"]))
        #expect(info["type"] as? String == "differencing")
        #expect(info["parentPath"] as? String == dir.file("p.vhd"))
        #expect(
            info["parentUniqueId"] as? String
                == (try VHDImage.open(path: dir.file("p.vhd"), readOnly: true)).footer.uniqueID.description)
        #expect(try Self.vhd(["convert", dir.file("c.vhd"), dir.file("flat.raw"), "--to", "raw"]).status == 0)
        #expect(try Array(readFile(dir.file("flat.raw"))[1 << 20..<(1 << 20) + 100]) == pattern(100, seed: 2))
        #expect(try Self.vhd(["commit", dir.file("c.vhd")]).status == 0)
        #expect(
            try VHDImage.open(path: dir.file("p.vhd"), readOnly: true).read(at: 1 << 20, length: 100)
                == pattern(100, seed: 2))
    }

    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func brokenParentLink() throws {
        let dir = try TemporaryDirectory()
        let child = dir.file("c.vhd")
        #expect(try Self.vhd(["create", dir.file("p.vhd"), "--size", "2M"]).status == 0)
        #expect(try Self.vhd(["create", child, "--parent", dir.file("p.vhd")]).status == 0)
        #expect(try Self.vhd(["write", child, "--offset", "1M"], stdin: pattern(512, seed: 3)).status == 0)
        let parentID = try VHDImage.open(path: dir.file("p.vhd"), readOnly: true).footer.uniqueID.description
        let childID = try VHDImage.open(path: child, readOnly: true).footer.uniqueID.description
        try FileManager.default.removeItem(atPath: dir.file("p.vhd"))
        for broken in ["missing", "mismatched"] {
            if broken == "mismatched" {
                #expect(try Self.vhd(["create", dir.file("p.vhd"), "--size", "2M"]).status == 0)
            }
            // info: the child's own information, and the broken link.
            let result = try Self.vhd(["info", child, "--json"])
            #expect(result.status == 0, "\(broken): \(result.standardError)")
            let info = try Self.json(result)
            #expect(info["type"] as? String == "differencing")
            #expect(info["uniqueId"] as? String == childID)
            #expect(info["parentUniqueId"] as? String == parentID)
            #expect(info["parentPath"] is NSNull)
            #expect(info["allocatedBlocks"] as? Int == 1)
            let problem = try #require(info["parentProblem"] as? String, "\(broken)")
            #expect(
                problem.hasPrefix(child + ": ") && problem.contains(broken == "missing" ? "not found" : parentID),
                "\(problem)")
            let text = try Self.vhd(["info", child])
            #expect(text.status == 0 && text.text.contains("parent problem:"), "\(broken)")
            // map: this layer only.
            #expect(try Self.vhd(["map", child]).status == 0)
            // check: the problem, non-zero exit, one line on stderr naming the file.
            let check = try Self.vhd(["check", child, "--json"])
            #expect(check.status == 1)
            #expect(try Self.json(check)["clean"] as? Bool == false)
            let lines = check.standardError.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("vhd: \(child): "), "\(check.standardError)")
            // read: an error, never zeros.
            let read = try Self.vhd(["read", child, "--offset", "0", "--length", "512"])
            #expect(read.status == 1 && read.standardOutput.isEmpty)
        }
    }

    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func failuresAreOneLineNamingTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("bad.vhd")
        #expect(try Self.vhd(["create", path, "--size", "1M"]).status == 0)
        var bytes = try readFile(path)
        bytes[512 + 40] ^= 1  // header checksum now wrong
        try writeFile(path, bytes)
        for arguments in [
            ["info", path], ["check", path], ["read", path, "--offset", "0", "--length", "1"],
            ["info", dir.file("missing.vhd")],
        ] {
            let result = try Self.vhd(arguments)
            #expect(result.status == 1, "\(arguments)")
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("vhd: \(arguments[1]): "), "\(result.standardError)")
        }
        #expect(try Self.vhd(["info", path]).standardError.contains("header.checksum"))
        #expect(try Self.vhd(["create", path, "--size", "12Q"]).status != 0)
    }

    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func createSetsCreatorFieldsAndUniqueID() throws {
        let dir = try TemporaryDirectory()
        let id = "0123abcd-4567-89ef-fedc-ba9876543210"
        for type in ["fixed", "dynamic"] {
            let path = dir.file("\(type).vhd")
            let created = try Self.vhd([
                "create", path, "--size", "1M", "--type", type, "--creator-app", "vs",
                "--creator-version", "6.1", "--host-os", "Mac ", "--unique-id", id,
            ])
            #expect(created.status == 0, "\(created.standardError)")
            let footer = try VHDImage.open(path: path, readOnly: true).footer
            #expect(footer.creatorApplication == fourCC("vs  "))
            #expect(footer.creatorVersion == 0x0006_0001)
            #expect(footer.creatorHostOS == fourCC("Mac "))
            #expect(footer.uniqueID.description == id)
            let info = try Self.json(Self.vhd(["info", path, "--json"]))
            #expect(info["creatorApplication"] as? String == "vs  ")
            #expect(info["creatorHostOS"] as? String == "Mac ")
            #expect(info["uniqueId"] as? String == id)
            #expect(try Self.vhd(["check", path]).status == 0)
        }
        // Differencing: the same options; codes in hex (a host OS of 0, `tap\0`).
        let child = dir.file("child.vhd")
        let childID = "ffeeddcc-bbaa-9988-7766-554433221100"
        let created = try Self.vhd([
            "create", child, "--parent", dir.file("dynamic.vhd"), "--creator-app", "0x74617000",
            "--host-os", "0x0", "--unique-id", childID.replacingOccurrences(of: "-", with: ""),
        ])
        #expect(created.status == 0, "\(created.standardError)")
        let footer = try VHDImage.open(path: child, readOnly: true).footer
        #expect(footer.creatorApplication == 0x7461_7000 && footer.creatorHostOS == 0)
        #expect(footer.creatorVersion == 0x000A_0000)
        #expect(footer.uniqueID.description == childID)
        // Bad values are usage errors; nothing is created.
        for bad in [
            ["--unique-id", "0123"], ["--unique-id", id.replacingOccurrences(of: "0", with: "g")],
            ["--creator-app", "toolong"],
            ["--creator-version", "1.70000"], ["--host-os", "0xZ"], ["--host-os", "0x+1"],
        ] {
            let path = dir.file("bad.vhd")
            let result = try Self.vhd(["create", path, "--size", "1M"] + bad)
            #expect(result.status == 64, "\(bad)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(bad)")
        }
    }

    /// A raw disk whose last sector holds a valid VHD footer that does not fit it (as a guest
    /// may write, or a convert to raw of such a disk): `auto` reports a damaged VHD, `raw`
    /// reads it as the raw disk it is. Found by the fuzz target's convert invariant.
    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func formatRawReadsARawDiskThatEndsWithAFooter() throws {
        let dir = try TemporaryDirectory()
        let vhd = dir.file("f.vhd"), raw = dir.file("disk.raw")
        _ = try VHDImage.create(path: vhd, options: VHDCreateOptions(type: .fixed, size: 8192))
        let footer = Array(try readFile(vhd).suffix(512))  // claims 8 KiB, needs 8.5 KiB
        let disk = pattern(8192 - 512, seed: 3) + footer
        try writeFile(raw, disk)

        let tooSmall = VHDError.invalidField(
            field: "footer.currentSize", value: 8192,
            reason: "a fixed disk of this size needs its data and a 512-byte footer, the file has 8192 bytes")
        #expect(throws: tooSmall) { try openImage(path: raw) }
        #expect(try openImage(path: raw, as: .raw).read(at: 0, length: 8192) == disk)
        #expect(throws: tooSmall) { try openImage(path: raw, as: .vhd) }

        let auto = try Self.vhd(["read", raw, "--offset", "0", "--length", "8192"])
        #expect(auto.status == 1)
        let read = try Self.vhd(["read", raw, "-f", "raw", "--offset", "0", "--length", "8192"])
        #expect(read.status == 0 && read.standardOutput == disk)
        let converted = dir.file("c.vhd")
        #expect(try Self.vhd(["convert", raw, converted, "--to", "dynamic", "--format", "raw"]).status == 0)
        #expect(try VHDImage.open(path: converted, readOnly: true).read(at: 0, length: 8192) == disk)
        #expect(try Self.vhd(["write", raw, "-f", "raw", "--offset", "512"], stdin: [1, 2, 3]).status == 0)
        #expect(Array(try readFile(raw)[512..<515]) == [1, 2, 3])
    }

    @Test(.enabled(if: tool != nil, "vhd executable not found next to the test bundle"))
    func sizesAcceptSuffixes() throws {
        let dir = try TemporaryDirectory()
        for (text, bytes) in [("3M", 3 << 20), ("1G", 1 << 30), ("2048K", 2 << 20), ("1T", 1 << 40), ("1536", 1536)] {
            let path = dir.file("s\(bytes).vhd")
            #expect(try Self.vhd(["create", path, "--size", text]).status == 0)
            #expect(try VHDImage.open(path: path, readOnly: true).capacity == UInt64(bytes))
        }
    }
}
