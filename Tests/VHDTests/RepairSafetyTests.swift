import Foundation
import TestSupport
import Testing

@testable import VHD

/// `check --repair` never makes an image worse: it writes nothing when the file's own
/// structures have a fatal problem it cannot fix, and one repair leaves nothing a second could
/// fix. Each case here was first found by the fuzz target's repair invariant.
@Suite struct RepairSafetyTests {
    typealias Edit = BadInputTests.Edit

    /// A block that lies in the dynamic header, and a damaged trailing footer: restoring the
    /// footer would cut the file after the data that check counts, so the misplaced block would
    /// end up past the end. Nothing is written.
    @Test func aBlockInsideMetadataWithholdsEveryRepair() throws {
        let dir = try TemporaryDirectory()
        let path = try BadInputTests.dynamicImage(dir)
        try BadInputTests.edit(path) { e in
            e.be32(1, at: 1536 + 3 * 4)  // bat[3] → sector 1, inside the header
            e.bytes[e.footerAt + 100] ^= 0xFF  // the trailing footer's checksum fails
        }
        let before = try readFile(path)
        let report = try VHDImage.check(path: path, repair: true)
        #expect(report.repairWithheld)
        #expect(report.repaired.isEmpty)
        #expect(
            report.problems.contains { if case .batEntryInMetadata(block: 3, _, _) = $0.error { true } else { false } },
            "\(report.problems)")
        #expect(report.problems.contains { $0.repair == .restoreTrailingFooter }, "\(report.problems)")
        #expect(try readFile(path) == before, "nothing written")
    }

    /// A BAT that reaches into the trailing footer: dropping an entry would write into the
    /// footer. The overlap itself is a fatal problem that names both; open refuses the image.
    @Test func aTrailingFooterOverlappingTheTableIsFatalAndWithholdsRepairs() throws {
        let dir = try TemporaryDirectory()
        var options = VHDCreateOptions(type: .dynamic, size: 4 << 20)
        options.blockSize = 1 << 20
        let path = dir.file("e.vhd")
        _ = try VHDImage.create(path: path, options: options)
        try BadInputTests.edit(path) { e in
            #expect(e.bytes.count == 2560, "copy, header, a one-sector BAT and the footer")
            e.be32(256, at: 512 + 28)  // a two-sector BAT: 1536..<2560
            e.sealHeader()
        }
        let before = try readFile(path)
        let overlap = { (error: VHDError) -> Bool in "\(error)".contains("the trailing footer overlaps the BAT") }
        let error = try #require(BadInputTests.openError(path))
        #expect(overlap(error), "\(error)")
        let report = try VHDImage.check(path: path, repair: true)
        #expect(report.problems.contains { $0.severity == .fatal && overlap($0.error) }, "\(report.problems)")
        #expect(report.repaired.isEmpty)
        #expect(try readFile(path) == before, "nothing written")
    }

    /// Bytes of the trailing footer that a parse does not keep (its reserved tail) do not make
    /// the copy "differ"; a damaged copy is restored from the fields, and checking again finds
    /// nothing left to repair.
    @Test func footerCopiesAreComparedFieldByField() throws {
        let dir = try TemporaryDirectory()
        let path = try BadInputTests.dynamicImage(dir)
        try BadInputTests.edit(path) { e in
            e.bytes[e.footerAt + 500] = 0x5A
            e.sealFooter(at: e.footerAt)
        }
        var report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")

        try BadInputTests.edit(path) { e in e.bytes[3] ^= 0xFF }  // the copy's cookie
        report = try VHDImage.check(path: path, repair: true)
        #expect(report.repaired.map(\.repair) == [.restoreFooterCopy])
        #expect(report.problems.isEmpty, "\(report.problems)")
        report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(try VHDImage.open(path: path, readOnly: true).read(at: 0, length: 4096) == pattern(4096, seed: 1))
    }

    /// A parent locator whose data lies in the footer copy (its `W2ru` entry pointing at offset
    /// 0), and a copy that differs from the trailing footer: the parent was looked for under a
    /// name spelled by the damaged copy's bytes, so restoring the copy renamed the parent and an
    /// image that had opened no longer did ("parent image not found"). A locator sharing bytes
    /// with the footer copy, the header or the BAT is now fatal: open refuses the image, and
    /// check withholds the repair and writes nothing. Found by the fuzz target's repair
    /// invariant (`finding-repair-unopenable.bin`).
    @Test func aLocatorInsideTheFooterCopyIsFatalAndWithholdsTheRepair() throws {
        let dir = try TemporaryDirectory()
        let parent = try BadInputTests.dynamicImage(dir, name: "p.vhd")
        let child = dir.file("c.vhd")
        _ = try VHDImage.createDifferencing(path: child, parentPath: parent)
        try BadInputTests.edit(child) { e in
            e.be64(0, at: 512 + 576 + 16)  // locator 0 (W2ru): its data at offset 0 ...
            e.be32(10, at: 512 + 576 + 8)  // ... 10 bytes: "conectix" and the features' first half
            for i in 64..<576 { e.bytes[512 + i] = 0 }  // no parent name
            e.sealHeader()
            e.bytes[9] = 0x16  // the copy's features: 0x00160002, so it differs from the trailing footer
            e.sealFooter(at: 0)
        }
        // Read as UTF-16LE, the locator spells "\u{6F63}\u{656E}\u{7463}\u{7869}\u{1600}"; the parent
        // stands there, next to the child.
        let spelled = dir.file("\u{6F63}\u{656E}\u{7463}\u{7869}\u{1600}")
        try FileManager.default.moveItem(atPath: parent, toPath: spelled)
        let before = try readFile(child)
        let expected = VHDError.invalidField(
            field: "header.parentLocator[0].dataOffset", value: 0,
            reason: "the locator's 10 bytes of data overlap the footer copy")
        #expect(BadInputTests.openError(child) == expected)
        let report = try VHDImage.check(path: child, repair: true)
        #expect(report.repairWithheld)
        #expect(report.repaired.isEmpty)
        #expect(report.lost.isEmpty)
        #expect(report.problems.contains { $0.severity == .fatal && $0.error == expected }, "\(report.problems)")
        #expect(report.problems.contains { $0.repair == .restoreFooterCopy }, "\(report.problems)")
        #expect(try readFile(child) == before, "nothing written")
    }

    /// A locator whose data lies in the dynamic header or in the BAT is fatal as well: a header
    /// update or a new block's BAT entry would change where the parent is looked for.
    @Test func aLocatorInsideTheHeaderOrTheTableIsFatal() throws {
        let dir = try TemporaryDirectory()
        let child = try BadInputTests.chain(dir)
        let table = Int(try readFile(child).be64(512 + 16))
        for (offset, what) in [(512 + 64, "dynamic header"), (table + 4, "BAT")] {
            try BadInputTests.edit(child) { e in
                e.be64(UInt64(offset), at: 512 + 576 + 16)
                e.sealHeader()
            }
            let length = try readFile(child).be32(512 + 576 + 8)
            #expect(
                BadInputTests.openError(child)
                    == .invalidField(
                        field: "header.parentLocator[0].dataOffset", value: UInt64(offset),
                        reason: "the locator's \(length) bytes of data overlap the \(what)"))
            let before = try readFile(child)
            #expect(try VHDImage.check(path: child, repair: true).problems.contains { $0.severity == .fatal })
            #expect(try readFile(child) == before)
        }
    }

    /// A missing parent is not a problem of the file's own structures: the repairs still run.
    @Test func aMissingParentDoesNotWithholdRepairs() throws {
        let dir = try TemporaryDirectory()
        let parent = try BadInputTests.dynamicImage(dir, name: "p.vhd")
        let child = dir.file("c.vhd")
        _ = try VHDImage.createDifferencing(path: child, parentPath: parent)
        try FileManager.default.removeItem(atPath: parent)
        try BadInputTests.edit(child) { e in e.bytes[3] ^= 0xFF }
        let report = try VHDImage.check(path: child, repair: true)
        #expect(!report.repairWithheld)
        #expect(report.repaired.map(\.repair) == [.restoreFooterCopy])
        #expect(report.problems.map(\.severity) == [.fatal], "only the missing parent is left: \(report.problems)")
    }

    /// An image whose footer copy is damaged, written to without a flush and then crashed:
    /// the trailing footer is gone (the new block's data is where the file ends), so the copy
    /// must stand in, and the first allocation rewrites it first. Every crash leaves the same
    /// disk. Found by the fuzz target's failed-write invariant.
    @Test func aDamagedFooterCopyIsRewrittenBeforeTheTrailingFooterIsAtRisk() throws {
        let dir = try TemporaryDirectory()
        let path = try BadInputTests.dynamicImage(dir)
        try BadInputTests.edit(path) { e in e.bytes[3] ^= 0xFF }  // the copy's cookie
        let io = FaultyIO(bytes: try readFile(path))
        let image = try VHDImage.open(io: io, path: path)
        #expect(image.openProblems.contains { $0.repair == .restoreFooterCopy })
        try image.write(pattern(4096, seed: 9), at: 3 << 20)  // allocates block 3
        var disk = [UInt8](repeating: 0, count: 4 << 20)
        disk.replaceSubrange(0..<4096, with: pattern(4096, seed: 1))
        disk.replaceSubrange((2 << 20)..<(2 << 20) + 4096, with: pattern(4096, seed: 2))
        for (name, bytes) in io.crashVariants() {
            let crashed = try VHDImage.open(io: FaultyIO(bytes: bytes), path: path, readOnly: true)
            #expect(crashed.capacity == 4 << 20 && crashed.diskType == .dynamic, "\(name)")
            let read = try contents(of: crashed)
            let written = Array(read[(3 << 20)..<(3 << 20) + 4096])
            #expect(written == pattern(4096, seed: 9) || written.allSatisfy { $0 == 0 }, "\(name)")
            var rest = read
            rest.replaceSubrange((3 << 20)..<(3 << 20) + 4096, with: [UInt8](repeating: 0, count: 4096))
            #expect(difference(rest, disk) == nil, "\(name)")
        }
    }
}
