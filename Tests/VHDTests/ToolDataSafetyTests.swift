import Foundation
import TestSupport
import Testing

@testable import VHD

/// The `vhd` tool, run as a process, never destroys a file with a command that fails: the two
/// commands found to do so (a convert onto its own source, a create with an invalid size over
/// an image) fail and leave the image byte for byte as it was, with no other file appearing.
@Suite(.enabled(if: ToolTests.tool != nil, "vhd executable not found next to the test bundle"))
struct ToolDataSafetyTests {
    func image(_ dir: TemporaryDirectory, _ name: String) throws -> (String, [UInt8]) {
        let path = dir.file(name)
        #expect(try ToolTests.vhd(["create", path, "--size", "8M"]).status == 0)
        #expect(try ToolTests.vhd(["write", path, "--offset", "1M"], stdin: pattern(65536, seed: 31)).status == 0)
        return (path, try readFile(path))
    }

    @Test func convertOntoItsOwnSourceFailsAndKeepsIt() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try image(dir, "a.vhd")
        try FileManager.default.createSymbolicLink(atPath: dir.file("alias.vhd"), withDestinationPath: path)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        for destination in [path, dir.file("alias.vhd")] {
            let result = try ToolTests.vhd(["convert", path, destination, "--to", "dynamic"])
            #expect(result.status == 1, "\(destination)")
            #expect(result.standardError.contains("\(destination) is the source image or one of its parents"))
        }
        #expect(try readFile(path) == bytes)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == before)
    }

    @Test func createWithAnInvalidSizeOverAnImageKeepsIt() throws {
        let dir = try TemporaryDirectory()
        let (path, bytes) = try image(dir, "keep.vhd")
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        for arguments in [
            ["--size", "100"], ["--size", "1M", "--block-size", "3000"], ["--parent", dir.file("no.vhd")],
        ] {
            let result = try ToolTests.vhd(["create", path] + arguments)
            #expect(result.status != 0, "\(arguments)")
        }
        #expect(try readFile(path) == bytes)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == before)
    }
}
