import Foundation
import TestSupport
import Testing

@testable import VHD

/// The differencing header's parent timestamp (recorded at create, renewed by commit, compared
/// by check) and in-place rewrites of the dynamic header's first sector.
@Suite struct HeaderRewriteTests {
    /// Sets the modification time of `path` to `unixSeconds`.
    static func setModificationTime(_ path: String, unixSeconds: Int) throws {
        var times = [timespec(tv_sec: unixSeconds, tv_nsec: 0), timespec(tv_sec: unixSeconds, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0, "utimensat \(path): errno \(errno)")
    }

    static func parentTimestampNotices(_ report: VHDCheckReport) -> [VHDProblem] {
        report.problems.filter { "\($0.error)".contains("header.parentTimestamp") }
    }

    @Test func timestampsConvertFromUnixAndPrintAsUTC() {
        #expect(VHDTimestamp.fromUnix(946_684_800) == 0)
        #expect(VHDTimestamp.fromUnix(-5) == 0)
        #expect(VHDTimestamp.iso8601(0) == "2000-01-01T00:00:00Z")
        #expect(VHDTimestamp.iso8601(VHDTimestamp.fromUnix(1_000_000_000)) == "2001-09-09T01:46:40Z")
        #expect(VHDTimestamp.iso8601(UInt32.max) == "2136-02-07T06:28:15Z")
    }

    @Test func createRecordsTheParentsModificationTimeAndCheckNoticesAChange() throws {
        let dir = try TemporaryDirectory()
        try MaintenanceTests.filledParent(dir.file("p.vhd"), size: 2 << 20, seed: 1)
        try Self.setModificationTime(dir.file("p.vhd"), unixSeconds: 1_000_000_000)
        _ = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("p.vhd"))
        let child = try VHDImage.open(path: dir.file("c.vhd"), readOnly: true)
        #expect(child.header?.parentTimestamp == VHDTimestamp.fromUnix(1_000_000_000))
        var report = try VHDImage.check(path: dir.file("c.vhd"))
        #expect(report.problems.isEmpty, "\(report.problems)")

        // The parent changes (here only its time): a notice that names the field, and the
        // image stays clean (nothing in it is wrong, and a copy also changes the time).
        try Self.setModificationTime(dir.file("p.vhd"), unixSeconds: 1_100_000_000)
        report = try VHDImage.check(path: dir.file("c.vhd"))
        #expect(report.isClean)
        let notices = Self.parentTimestampNotices(report)
        #expect(notices.count == 1 && notices.allSatisfy { $0.severity == .notice }, "\(report.problems)")

        // A grandchild reports its parent's stale link too, as a problem in that parent.
        _ = try VHDImage.createDifferencing(path: dir.file("g.vhd"), parentPath: dir.file("c.vhd"))
        report = try VHDImage.check(path: dir.file("g.vhd"))
        #expect(report.isClean)
        let inherited = Self.parentTimestampNotices(report)
        #expect(inherited.count == 1, "\(report.problems)")
        if case .inParent(let path, _) = inherited.first?.error {
            #expect(path == dir.file("c.vhd"))
        } else {
            Issue.record("expected the notice to name c.vhd: \(report.problems)")
        }
    }

    @Test func commitRecordsTheParentsNewModificationTime() throws {
        let dir = try TemporaryDirectory()
        try MaintenanceTests.filledParent(dir.file("p.vhd"), size: 2 << 20, seed: 2)
        try Self.setModificationTime(dir.file("p.vhd"), unixSeconds: 1_000_000_000)
        var model = pattern(2 << 20, seed: 2)
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("p.vhd"))
            try child.write(pattern(5000, seed: 3), at: 70_000)
            model.replaceSubrange(70_000..<75_000, with: pattern(5000, seed: 3))
        }
        _ = try VHDImage.commit(path: dir.file("c.vhd"))
        let modified = try #require(VHDTimestamp.modificationTime(ofFile: dir.file("p.vhd")))
        #expect(modified != VHDTimestamp.fromUnix(1_000_000_000), "commit wrote the parent")
        let child = try VHDImage.open(path: dir.file("c.vhd"), readOnly: true)
        #expect(child.header?.parentTimestamp == modified)
        #expect(try difference(contents(of: child), model) == nil)
        let report = try VHDImage.check(path: dir.file("c.vhd"))
        #expect(report.problems.isEmpty, "\(report.problems)")
        try withOracle(ToolCheck.pyvhdi, "libvhdi (pyvhdi)") { () throws in
            #expect(try InteropTests.libvhdiRead([dir.file("c.vhd"), dir.file("p.vhd")], into: dir) == model)
        }
    }

    /// A dynamic image whose header's reserved tail (second sector, not kept by a parse) was
    /// set by another tool, with a valid checksum.
    static func withReservedTail(_ path: String, _ bytes: [UInt8]) throws -> (header: Int, bytes: [UInt8]) {
        var bytes = bytes
        let footer = try VHDFooter.parse(Array(bytes[0..<512]))
        let header = Int(footer.dataOffset)
        for i in 0..<16 { bytes[header + 1000 + i] = UInt8(0xA0 + i) }
        var headerBytes = Array(bytes[header..<header + VHDDynamicHeader.size])
        headerBytes.setBE32(
            vhdChecksum(headerBytes, checksumOffset: VHDDynamicHeader.checksumOffset),
            at: VHDDynamicHeader.checksumOffset)
        bytes.replaceSubrange(header..<header + VHDDynamicHeader.size, with: headerBytes)
        try writeFile(path, bytes)
        #expect(try VHDImage.check(path: path).isClean)
        return (header, bytes)
    }

    /// Resize moving the BAT rewrites only the first header sector, keeping the second.
    @Test func resizeMovingTheTableKeepsTheHeadersSecondSector() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("r.vhd")
        do {
            let image = try MaintenanceTests.dynamic(path, size: 1 << 20, blockSize: 4096)
            try image.write(pattern(64 << 10, seed: 9), at: 0)
            try image.flush()
        }
        let (header, bytes) = try Self.withReservedTail(path, try readFile(path))
        let oldTable = try #require(try VHDImage.open(path: path, readOnly: true).header?.tableOffset)
        try VHDImage.resize(path: path, to: 4 << 20)
        let after = try readFile(path)
        #expect(try VHDImage.open(path: path, readOnly: true).header?.tableOffset != oldTable, "the BAT moved")
        #expect(
            Array(after[header + 512..<header + VHDDynamicHeader.size])
                == Array(bytes[header + 512..<header + VHDDynamicHeader.size]))
        let report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")
        var model = [UInt8](repeating: 0, count: 4 << 20)
        model.replaceSubrange(0..<(64 << 10), with: pattern(64 << 10, seed: 9))
        #expect(try difference(contents(of: VHDImage.open(path: path, readOnly: true)), model) == nil)
    }

    /// Compact moving the BAT rewrites only the first header sector, keeping the second.
    @Test func compactMovingTheTableKeepsTheHeadersSecondSector() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("m.vhd")
        let initial = try MaintenanceCrashTests.resizedAndDiscarded(dir: dir)
        let (header, bytes) = try Self.withReservedTail(path, initial.bytes)

        let result = try VHDImage.compact(path: path)
        #expect(result.tableMoved)
        let after = try readFile(path)
        #expect(
            Array(after[header + 512..<header + VHDDynamicHeader.size])
                == Array(bytes[header + 512..<header + VHDDynamicHeader.size]))
        let report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(try difference(contents(of: VHDImage.open(path: path, readOnly: true)), initial.disk) == nil)
    }
}
