import Foundation
import HostSupport
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A listener at a path accepts without blocking, a connection to it carries bytes both ways, a
/// stale socket file is replaced while any other file is refused and left alone, and each failure
/// is a typed error naming the path.
@Suite struct UnixSocketTests {
    @Test func aConnectionCarriesBytesBothWays() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("s.sock")
        let listener = try UnixSocket.listen(at: path)
        #expect(try UnixSocket.accept(listener.raw) == nil, "no one waits: nil, not a block")
        let client = try UnixSocket.connect(to: path)
        guard let server = try UnixSocket.accept(listener.raw) else {
            Issue.record("the connection was not waiting to be accepted")
            return
        }
        for (from, to) in [(client.raw, server.raw), (server.raw, client.raw)] {
            let message = Array("over the socket".utf8)
            #expect(try message.withUnsafeBytes { try SystemCall.writeSome(from, $0, "write") } == message.count)
            var buffer = [UInt8](repeating: 0, count: 64)
            var got: Int? = nil
            try waitUntil("the bytes") {
                got = (try? buffer.withUnsafeMutableBytes { try SystemCall.readSome(to, into: $0, "read") }) ?? nil
                return got != nil
            }
            #expect(Array(buffer[0..<(got ?? 0)]) == message)
        }
        // Non-blocking: nothing to read is nil.
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(try buffer.withUnsafeMutableBytes { try SystemCall.readSome(server.raw, into: $0, "read") } == nil)
    }

    @Test func aStaleSocketIsReplacedAndAnyOtherFileRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("stale.sock")
        do { _ = try UnixSocket.listen(at: path) }  // closed: its file stays behind
        #expect(FileManager.default.fileExists(atPath: path))
        let again = try UnixSocket.listen(at: path)
        _ = try UnixSocket.connect(to: path)
        #expect(try UnixSocket.accept(again.raw) != nil)
        let file = dir.file("regular")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: file))
        #expect(
            throws: SystemCallError(
                operation: "listen at \(file): a file that is not a socket is there", errno: .fileExists)
        ) {
            _ = try UnixSocket.listen(at: file)
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep me")
    }

    @Test func failuresNameThePath() throws {
        let dir = try TemporaryDirectory()
        let missing = dir.file("nobody.sock")
        #expect(throws: SystemCallError(operation: "connect to \(missing)", errno: .noSuchFileOrDirectory)) {
            _ = try UnixSocket.connect(to: missing)
        }
        let long = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: SystemCallError(operation: "connect to \(long): path too long", errno: .fileNameTooLong)) {
            _ = try UnixSocket.connect(to: long)
        }
        // A socket file no one listens on any more.
        let stale = dir.file("stale.sock")
        do { _ = try UnixSocket.listen(at: stale) }
        #expect(throws: SystemCallError(operation: "connect to \(stale)", errno: .connectionRefused)) {
            _ = try UnixSocket.connect(to: stale)
        }
    }
}
