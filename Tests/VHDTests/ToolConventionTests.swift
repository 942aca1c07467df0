import Foundation
import TestSupport
import Testing

@testable import VHD

/// The `vhd` tool speaks as qemu-img and ArgumentParser do: every usage error exits 64 and
/// creates nothing; sizes take K, M, G, T (or KiB … TiB) and nothing else; resize takes
/// `+SIZE`/`-SIZE` relative to the current size; `--json` prints one JSON document even on
/// failure; `--version` answers.
@Suite(.enabled(if: ToolTests.tool != nil, "vhd executable not found next to the test bundle"))
struct ToolConventionTests {
    @Test func usageErrorsExit64AndCreateNothing() throws {
        let dir = try TemporaryDirectory()
        try writeFile(dir.file("base.raw"), [UInt8](repeating: 0, count: 4096))
        _ = try VHDImage.create(path: dir.file("base.vhd"), options: VHDCreateOptions(type: .dynamic, size: 1 << 20))
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        let path = dir.file("e.vhd")
        for arguments in [
            ["create", path],
            ["create", path, "--size", "1M", "--parent", dir.file("base.vhd")],
            ["create", path, "--type", "fixed", "--parent", dir.file("base.vhd")],
            ["create", path, "--block-size", "8G", "--size", "1M"],
            ["create", path, "--size", "10MB"], ["create", path, "--size", "10m"], ["create", path, "--size", "1.5G"],
            ["create", path, "--size", "+1M"],
            ["resize", dir.file("base.vhd")], ["resize", dir.file("base.vhd"), "1M", "2M"],
            ["resize", dir.file("base.vhd"), "+12 M"],
            ["convert", dir.file("base.vhd"), dir.file("c.vhd"), "--to", "dynamic", "-p", "-q"],
            ["convrt", dir.file("base.vhd")],
        ] {
            let result = try ToolTests.vhd(arguments)
            #expect(result.status == 64, "\(arguments): \(result.standardError)")
        }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == before)
    }

    /// A negative number is a value that is refused, not a missing value (ArgumentParser took
    /// `-1` for an option); the message says what is wrong with it.
    @Test func negativeAndMalformedByteCountsSayWhy() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("n.vhd")
        #expect(try ToolTests.vhd(["create", path, "--size", "1M"]).status == 0)
        let bytes = try readFile(path)
        for (arguments, value, option) in [
            (["read", path, "--offset", "-1", "--length", "4"], "-1", "--offset"),
            (["read", path, "--offset", "0", "--length", "-512"], "-512", "--length"),
            (["write", path, "--offset", "-4K"], "-4K", "--offset"),
            (["create", dir.file("m.vhd"), "--size", "-4M"], "-4M", "--size"),
            (["create", dir.file("m.vhd"), "--size", "1M", "--block-size", "-2M"], "-2M", "--block-size"),
            (["convert", path, dir.file("m.vhd"), "--to", "dynamic", "--block-size", "-1"], "-1", "--block-size"),
        ] {
            let result = try ToolTests.vhd(arguments, stdin: [1])
            #expect(result.status == 64, "\(arguments): \(result.standardError)")
            #expect(
                result.standardError.contains(
                    "The value '\(value)' is invalid for '\(option) <"),
                "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains("'\(value)' is negative"), "\(arguments): \(result.standardError)")
        }
        let malformed = try ToolTests.vhd(["read", path, "--offset", "1MB", "--length", "1"])
        #expect(malformed.status == 64)
        #expect(malformed.standardError.contains("'1MB' is not a byte count"), "\(malformed.standardError)")
        #expect(try readFile(path) == bytes)
        #expect(!FileManager.default.fileExists(atPath: dir.file("m.vhd")))
    }

    /// A mistyped subcommand gets the nearest one (edit distance at most 2, a swapped pair
    /// counting 1) as a suggestion; a word far from every subcommand gets none.
    @Test func aMistypedSubcommandGetsASuggestion() throws {
        for (typed, meant) in [("inof", "info"), ("chekc", "check"), ("comit", "commit"), ("convrt", "convert")] {
            let result = try ToolTests.vhd([typed, "x.vhd"])
            #expect(result.status == 64, "\(typed)")
            #expect(
                result.standardError.hasPrefix("Error: unknown subcommand '\(typed)'; did you mean '\(meant)'?"),
                "\(typed): \(result.standardError)")
        }
        let far = try ToolTests.vhd(["xyzzy"])
        #expect(far.status == 64)
        #expect(!far.standardError.contains("did you mean"), "\(far.standardError)")
    }

    /// With `--json`, a usage error is a JSON document on standard output too (with
    /// `"usage": true`), beside the usual message on standard error.
    @Test func usageErrorsWithJSONAreJSON() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("u.vhd")
        #expect(try ToolTests.vhd(["create", path, "--size", "1M"]).status == 0)
        for arguments in [
            ["info", path, "--json", "--bogus"], ["check", "--json"], ["map", path, "--json", "--offset", "1"],
            ["inof", path, "--json"], ["check", path, "--json", "--repair", "-U"],
        ] {
            let result = try ToolTests.vhd(arguments)
            #expect(result.status == 64, "\(arguments)")
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [String: Any],
                "\(arguments): \(result.text)")
            let error = document["error"] as? [String: Any]
            #expect(error?["usage"] as? Bool == true, "\(arguments): \(document)")
            let message = try #require(error?["message"] as? String, "\(arguments)")
            #expect(result.standardError.contains(message), "\(arguments): the same message on standard error")
        }
    }

    @Test func sizesTakeBinarySuffixes() throws {
        let dir = try TemporaryDirectory()
        for (text, bytes) in [
            ("2M", 2 << 20), ("2MiB", 2 << 20), ("3072K", 3 << 20), ("3072KiB", 3 << 20), ("1G", 1 << 30),
        ] {
            let path = dir.file("s-\(text).vhd")
            #expect(try ToolTests.vhd(["create", path, "--size", text]).status == 0, "\(text)")
            #expect(try VHDImage.open(path: path, readOnly: true).capacity == UInt64(bytes), "\(text)")
        }
    }

    @Test func resizeTakesAbsoluteAndRelativeSizes() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("d.vhd")
        #expect(try ToolTests.vhd(["create", path, "--size", "10M"]).status == 0)
        for (argument, expected) in [("+12M", 22 << 20), ("-4M", 18 << 20), ("20M", 20 << 20)] {
            let result = try ToolTests.vhd(["resize", path, argument])
            #expect(result.status == 0, "\(argument): \(result.standardError)")
            #expect(try VHDImage.open(path: path, readOnly: true).capacity == UInt64(expected), "\(argument)")
        }
        let tooMuch = try ToolTests.vhd(["resize", path, "-30M"])
        #expect(tooMuch.status == 1)
        #expect(tooMuch.standardError.contains("cannot shrink \(20 << 20) bytes by \(30 << 20)"))
        #expect(try VHDImage.open(path: path, readOnly: true).capacity == 20 << 20, "unchanged")
    }

    @Test func jsonIsOneDocumentEvenOnFailure() throws {
        let dir = try TemporaryDirectory()
        try writeFile(dir.file("notes.txt"), Array("not a disk image, just a line of text\n".utf8))
        for command in ["info", "check", "map"] {
            for file in [dir.file("missing.vhd"), dir.file("notes.txt")] {
                let result = try ToolTests.vhd([command, file, "--json"])
                #expect(result.status == 1, "\(command) \(file)")
                let document = try #require(
                    try JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [String: Any],
                    "\(command) \(file): \(String(decoding: result.standardOutput, as: UTF8.self))")
                #expect(document["file"] as? String == file)
                if command != "check" || file.hasSuffix("missing.vhd") {
                    #expect((document["error"] as? [String: Any])?["message"] is String, "\(command) \(file)")
                }
            }
        }
    }

    /// Errors name the file that is wrong: a bad parent is the parent's error, an impossible
    /// destination the destination's, and a text file is "not a VHD image".
    @Test func errorsNameTheFileAtFault() throws {
        let dir = try TemporaryDirectory()
        let notes = dir.file("notes.txt")
        let text = Array("one 4 K of text, not a disk\n".utf8)
        try writeFile(notes, text)
        let child = try ToolTests.vhd(["create", dir.file("c.vhd"), "--parent", notes])
        #expect(child.status == 1)
        #expect(child.standardError.hasPrefix("vhd: \(notes): not a VHD image"), "\(child.standardError)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("c.vhd")))

        let source = dir.file("d.vhd")
        #expect(try ToolTests.vhd(["create", source, "--size", "1M"]).status == 0)
        let nowhere = dir.file("missing-dir/x.raw")
        let convert = try ToolTests.vhd(["convert", source, nowhere, "--to", "raw"])
        #expect(convert.status == 1)
        #expect(convert.standardError.hasPrefix("vhd: \(nowhere): cannot create a file in"), "\(convert.standardError)")

        let info = try ToolTests.vhd(["info", notes])
        let expected = "vhd: \(notes): not a VHD image (\(text.count) bytes: too small for a 512-byte footer)\n"
        #expect(info.standardError == expected)
        try writeFile(notes, [UInt8](repeating: 0x41, count: 4096))
        let big = try ToolTests.vhd(["info", notes])
        #expect(big.standardError.hasPrefix("vhd: \(notes): not a VHD image (no footer cookie"), "\(big.standardError)")
    }

    @Test func versionAnswers() throws {
        let result = try ToolTests.vhd(["--version"])
        #expect(result.status == 0)
        #expect(String(decoding: result.standardOutput, as: UTF8.self).contains("swift-vmm"))
    }
}
