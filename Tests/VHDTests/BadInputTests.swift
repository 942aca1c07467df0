import Foundation
import TestSupport
import Testing

@testable import VHD

/// Damaged and hostile images: each is rejected by `open` (or reported by `check`) with an
/// error naming the field; none crashes or reads garbage.
@Suite struct BadInputTests {
    /// A file being edited: raw bytes plus helpers that keep checksums right where asked.
    struct Edit {
        var bytes: [UInt8]
        var footerAt: Int { bytes.count - 512 }

        mutating func be32(_ value: UInt32, at offset: Int) { bytes.setBE32(value, at: offset) }
        mutating func be64(_ value: UInt64, at offset: Int) { bytes.setBE64(value, at: offset) }

        /// Recomputes the checksum of the footer at `offset`.
        mutating func sealFooter(at offset: Int) {
            bytes.setBE32(vhdChecksum(Array(bytes[offset..<offset + 512]), checksumOffset: 64), at: offset + 64)
        }

        /// Applies `change` to both footer copies (or the only one) and reseals them.
        mutating func footers(_ change: (inout Edit, Int) -> Void) {
            var offsets = [footerAt]
            if bytes.count > 1024, bytes.ascii(0..<8) == "conectix" { offsets.append(0) }
            for offset in offsets {
                change(&self, offset)
                sealFooter(at: offset)
            }
        }

        mutating func sealHeader() {
            bytes.setBE32(vhdChecksum(Array(bytes[512..<1536]), checksumOffset: 36), at: 512 + 36)
        }
    }

    /// A dynamic image (1 MiB blocks, 4 MiB) with two blocks allocated; returns its path.
    static func dynamicImage(_ dir: TemporaryDirectory, name: String = "d.vhd") throws -> String {
        var options = VHDCreateOptions(type: .dynamic, size: 4 << 20)
        options.blockSize = 1 << 20
        let image = try VHDImage.create(path: dir.file(name), options: options)
        try image.write(pattern(4096, seed: 1), at: 0)
        try image.write(pattern(4096, seed: 2), at: 2 << 20)
        try image.flush()
        return dir.file(name)
    }

    static func edit(_ path: String, _ change: (inout Edit) -> Void) throws {
        var e = Edit(bytes: try readFile(path))
        change(&e)
        try writeFile(path, e.bytes)
    }

    static func openError(_ path: String) -> VHDError? {
        do {
            _ = try VHDImage.open(path: path, readOnly: true)
            return nil
        } catch {
            return error
        }
    }

    /// The field an error names (for the field-level errors).
    static func field(_ error: VHDError?) -> String? {
        switch error {
        case .badCookie(let field, _, _), .badChecksum(let field, _, _), .invalidField(let field, _, _): return field
        default: return nil
        }
    }

    // MARK: Footer

    @Test func damagedTrailingFooterFallsBackToCopyAndRepairs() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { $0.bytes[$0.footerAt + 64] ^= 0xFF }
        do {
            let image = try VHDImage.open(path: path, readOnly: true)
            #expect(try image.read(at: 0, length: 4096) == pattern(4096, seed: 1))
            #expect(image.openProblems.map { Self.field($0.error) } == ["footer.checksum"])
        }
        let report = try VHDImage.check(path: path)
        #expect(!report.isClean)
        let repaired = try VHDImage.check(path: path, repair: true)
        #expect(repaired.repaired.count == 1)
        #expect(repaired.isClean, "\(repaired.problems)")
        #expect(try VHDImage.check(path: path).problems.isEmpty)
    }

    @Test func badChecksumInBothFootersIsRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { e in
            e.bytes[e.footerAt + 64] ^= 0xFF
            e.bytes[64] ^= 0xFF
        }
        #expect(Self.field(Self.openError(path)) == "footer.checksum")
        let report = try VHDImage.check(path: path)
        #expect(report.problems.first?.severity == .fatal)
    }

    @Test func badHeaderChecksumIsRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { $0.bytes[512 + 100] ^= 1 }
        #expect(Self.field(Self.openError(path)) == "header.checksum")
    }

    @Test func wrongCookiesAreRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { e in
            e.bytes[512] = UInt8(ascii: "X")
            e.sealHeader()
        }
        #expect(Self.field(Self.openError(path)) == "header.cookie")

        let fixed = dir.file("f.vhd")
        _ = try VHDImage.create(path: fixed, options: VHDCreateOptions(type: .fixed, size: 1 << 20))
        try Self.edit(fixed) { $0.bytes[$0.footerAt] = UInt8(ascii: "C") }
        #expect(Self.field(Self.openError(fixed)) == "footer.cookie")
    }

    @Test(arguments: [UInt32(0), 1, 5, 6])
    func invalidDiskTypeIsRejected(type: UInt32) throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { $0.footers { e, at in e.be32(type, at: at + 60) } }
        #expect(
            Self.openError(path)
                == .invalidField(
                    field: "footer.diskType", value: UInt64(type),
                    reason: "must be 2 (fixed), 3 (dynamic) or 4 (differencing)"))
    }

    @Test func fixedDiskClaimingMoreThanTheFileIsRejected() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("f.vhd")
        _ = try VHDImage.create(path: path, options: VHDCreateOptions(type: .fixed, size: 1 << 20))
        try Self.edit(path) { $0.footers { e, at in e.be64(2 << 20, at: at + 48) } }
        #expect(Self.field(Self.openError(path)) == "footer.currentSize")
    }

    @Test func truncatedFilesAreRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        let whole = try readFile(path)
        // Shorter than a footer.
        try writeFile(path, Array(whole[0..<300]))
        #expect(Self.openError(path) == .truncated(structure: "footer", needed: 512, fileSize: 300))
        // Cut inside the last block: the trailing footer is gone, the copy is used, and the
        // block the BAT points at no longer fits.
        try writeFile(path, Array(whole[0..<(whole.count - 600 << 10)]))
        guard case .batEntryOutsideFile = Self.openError(path) else {
            Issue.record("expected batEntryOutsideFile, got \(String(describing: Self.openError(path)))")
            return
        }
    }

    @Test func fileWithA511ByteTail() throws {
        let dir = try TemporaryDirectory()
        // Old Virtual PC wrote 511-byte footers: a fixed disk with one is read correctly.
        let fixed = dir.file("f.vhd")
        do {
            let image = try VHDImage.create(path: fixed, options: VHDCreateOptions(type: .fixed, size: 1 << 20))
            try image.write(pattern(1 << 20, seed: 3), at: 0)
            try image.flush()
        }
        try Self.edit(fixed) { $0.bytes.removeLast() }
        let reopened = try VHDImage.open(path: fixed, readOnly: true)
        #expect(try reopened.read(at: 0, length: 1 << 20) == pattern(1 << 20, seed: 3))
        // check still reports the odd file size.
        #expect(try VHDImage.check(path: fixed).problems.contains { Self.field($0.error) == "file size" })
        // A dynamic disk whose last byte was cut: readable, reported by check.
        let dynamic = try Self.dynamicImage(dir)
        try Self.edit(dynamic) { $0.bytes.removeLast() }
        #expect(try VHDImage.open(path: dynamic, readOnly: true).read(at: 0, length: 4096) == pattern(4096, seed: 1))
        #expect(try !VHDImage.check(path: dynamic).isClean)
    }

    // MARK: Sizes and header fields

    /// Up to 2^64 − 1 (sizes near it once overflowed `check`'s arithmetic: a fuzz finding).
    @Test(arguments: [UInt64(1) << 62, UInt64.max - 511, UInt64.max])
    func absurdCurrentSizeIsRejected(size: UInt64) throws {
        let dir = try TemporaryDirectory()
        for fixed in [false, true] {
            let path = fixed ? dir.file("f.vhd") : try Self.dynamicImage(dir)
            if fixed { _ = try VHDImage.create(path: path, options: VHDCreateOptions(type: .fixed, size: 64 << 10)) }
            try Self.edit(path) { $0.footers { e, at in e.be64(size, at: at + 48) } }
            #expect(Self.field(Self.openError(path)) == "footer.currentSize")
            let report = try VHDImage.check(path: path)
            #expect(
                report.problems.contains { $0.severity == .fatal && "\($0.error)".hasPrefix("footer.currentSize") },
                "\(report.problems)")
        }
    }

    @Test func hugeTableIsRejectedBeforeAllocating() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { e in
            e.be32(1 << 30, at: 512 + 28)
            e.sealHeader()
        }
        #expect(Self.field(Self.openError(path)) == "header.maxTableEntries")
    }

    @Test(arguments: [UInt32(3 << 20), 256, 0, 0x8000_0000])
    func badBlockSizeIsRejected(blockSize: UInt32) throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { e in
            e.be32(blockSize, at: 512 + 32)
            e.sealHeader()
        }
        #expect(Self.field(Self.openError(path)) == "header.blockSize")
    }

    @Test func tableTooSmallForTheDiskIsRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { e in
            e.be32(3, at: 512 + 28)
            e.sealHeader()
        }
        #expect(Self.field(Self.openError(path)) == "header.maxTableEntries")
    }

    @Test func dataOffsetPastEndOfFileIsRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { $0.footers { e, at in e.be64(1 << 40, at: at + 16) } }
        #expect(Self.field(Self.openError(path)) == "footer.dataOffset")
    }

    // MARK: BAT

    @Test func batEntryPastEndOfFileIsRejectedAndRepaired() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { $0.be32(0x0100_0000, at: 1536 + 4) }
        let offset: UInt64 = 0x0100_0000 * 512
        let fileSize = UInt64(try readFile(path).count)
        let expected = VHDError.batEntryOutsideFile(
            block: 1, offset: offset, end: offset + 512 + (1 << 20), fileSize: fileSize)
        #expect(Self.openError(path) == expected)
        let repaired = try VHDImage.check(path: path, repair: true)
        #expect(repaired.repaired.map(\.repair) == [.dropBATEntry(1)])
        #expect(repaired.isClean, "\(repaired.problems)")
        #expect(try VHDImage.open(path: path, readOnly: true).read(at: 0, length: 4096) == pattern(4096, seed: 1))
    }

    @Test func twoBATEntriesForOneBlockAreRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { e in e.be32(e.bytes.be32(1536), at: 1536 + 12) }
        guard case .batEntriesOverlap = Self.openError(path) else {
            Issue.record("expected batEntriesOverlap, got \(String(describing: Self.openError(path)))")
            return
        }
        #expect(
            try VHDImage.check(path: path).problems.contains {
                if case .batEntriesOverlap = $0.error { true } else { false }
            })
    }

    @Test func batEntryIntoMetadataIsRejected() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        try Self.edit(path) { $0.be32(1, at: 1536 + 8) }
        #expect(Self.openError(path) == .batEntryInMetadata(block: 2, offset: 512, metadataEnd: 2048))
    }

    // MARK: Parent link

    static func chain(_ dir: TemporaryDirectory) throws -> String {
        let parent = try Self.dynamicImage(dir, name: "parent.vhd")
        _ = try VHDImage.createDifferencing(path: dir.file("child.vhd"), parentPath: parent)
        return dir.file("child.vhd")
    }

    @Test func missingParentIsAnError() throws {
        let dir = try TemporaryDirectory()
        let child = try Self.chain(dir)
        try FileManager.default.removeItem(atPath: dir.file("parent.vhd"))
        guard case .parentNotFound(let tried) = Self.openError(child) else {
            Issue.record("expected parentNotFound, got \(String(describing: Self.openError(child)))")
            return
        }
        // Every locator leads to the same file (W2ku stores the path normalised, W2ru relative to
        // the child): it is tried, and listed, once.
        #expect(tried == ["W2ru \(dir.file("parent.vhd"))"])
        #expect(try !VHDImage.check(path: child).isClean)
    }

    @Test func parentIDMismatchIsAnError() throws {
        let dir = try TemporaryDirectory()
        let child = try Self.chain(dir)
        _ = try Self.dynamicImage(dir, name: "parent.vhd")  // a different disk under the same name
        guard case .parentMismatch = Self.openError(child) else {
            Issue.record("expected parentMismatch, got \(String(describing: Self.openError(child)))")
            return
        }
    }

    @Test func locatorPastEndOfFileIsRejected() throws {
        let dir = try TemporaryDirectory()
        let child = try Self.chain(dir)
        try Self.edit(child) { e in
            e.be64(1 << 30, at: 512 + 576 + 16)
            e.sealHeader()
        }
        guard case .locatorOutsideFile(index: 0, _, _, _) = Self.openError(child) else {
            Issue.record("expected locatorOutsideFile, got \(String(describing: Self.openError(child)))")
            return
        }
    }

    @Test func parentFoundThroughEachLocatorAlone() throws {
        let dir = try TemporaryDirectory()
        let child = try Self.chain(dir)
        let original = try readFile(child)
        // Keep one locator at a time (and no parent name): each must lead to the parent.
        for keep in 0..<3 {
            var e = Edit(bytes: original)
            for i in 0..<8 where i != keep { e.be32(0, at: 512 + 576 + i * 24) }
            for i in 64..<576 { e.bytes[512 + i] = 0 }
            e.sealHeader()
            try writeFile(child, e.bytes)
            let image = try VHDImage.open(path: child, readOnly: true)
            #expect(try image.read(at: 0, length: 4096) == pattern(4096, seed: 1), "locator \(keep)")
        }
    }

    @Test func chainLoopingBackIsAnError() throws {
        let dir = try TemporaryDirectory()
        let child = try Self.chain(dir)
        let own = try VHDImage.open(path: child, readOnly: true).footer.uniqueID
        // The child names itself as parent: by id and by its parent name (no locators).
        try Self.edit(child) { e in
            for i in 0..<16 { e.bytes[512 + 40 + i] = own.bytes[i] }
            for i in 0..<8 { e.be32(0, at: 512 + 576 + i * 24) }
            for i in 64..<576 { e.bytes[512 + i] = 0 }
            for (i, unit) in "child.vhd".utf16.enumerated() { e.bytes.setBE16(unit, at: 512 + 64 + 2 * i) }
            e.sealHeader()
        }
        #expect(Self.openError(child) == .parentCycle(path: child))
    }

    @Test func windowsDriveLetterLocatorIsSkippedForTheRelativeOne() throws {
        let dir = try TemporaryDirectory()
        let child = try Self.chain(dir)
        let original = try readFile(child)
        // Rewrite the W2ku locator (entry 1) as Hyper-V would: an absolute path with a drive letter.
        var e = Edit(bytes: original)
        let offset = Int(e.bytes.be64(512 + 576 + 24 + 16))
        let text = Array("C:\\VMs\\parent.vhd".utf16)
        for (i, unit) in text.enumerated() {
            e.bytes[offset + 2 * i] = UInt8(unit & 0xFF); e.bytes[offset + 2 * i + 1] = UInt8(unit >> 8)
        }
        e.be32(UInt32(text.count * 2), at: 512 + 576 + 24 + 8)
        e.sealHeader()
        try writeFile(child, e.bytes)
        // W2ru still leads to the parent.
        #expect(try VHDImage.open(path: child, readOnly: true).parentPath == dir.file("parent.vhd"))
        // With only the W2ku locator and no name left, the parent cannot be found.
        for i in [0, 2] { e.be32(0, at: 512 + 576 + i * 24) }
        for i in 64..<576 { e.bytes[512 + i] = 0 }
        e.sealHeader()
        try writeFile(child, e.bytes)
        #expect(Self.openError(child) == .parentNotFound(tried: ["W2ku C:\\VMs\\parent.vhd (not a local path)"]))
    }

    /// Every prefix of a valid image (every 4093 bytes, and each structure's boundary) is
    /// refused with the error its cut explains, or opens and reads exactly the disk's data:
    /// never a crash, never other data.
    @Test func everyTruncationFailsCleanly() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.dynamicImage(dir)
        let whole = try readFile(path)
        var model = [UInt8](repeating: 0, count: 4 << 20)
        model.replaceSubrange(0..<4096, with: pattern(4096, seed: 1))
        model.replaceSubrange((2 << 20)..<(2 << 20) + 4096, with: pattern(4096, seed: 2))
        // Where the cut falls: the footer copy, header and BAT (first 2 KiB here), the blocks,
        // or only the trailing footer.
        let firstBlock = Int(try VHDImage.open(path: path, readOnly: true).blockAllocationTable[0]) * 512
        var refusals: [String: Int] = [:]
        let lengths = Set(
            Array(stride(from: 0, to: whole.count, by: 4093)) + [511, 512, 1024, 1536, 2048, whole.count - 512])
        for length in lengths.sorted() {
            let cut = dir.file("cut-\(length).vhd")
            try writeFile(cut, Array(whole[0..<length]))
            do {
                let image = try VHDImage.open(path: cut, readOnly: true)
                #expect(length == whole.count - 512, "only the image without its trailing footer opens (\(length))")
                #expect(try contents(of: image) == model, "a prefix of \(length) bytes reads other data")
            } catch let error as VHDError {
                // The reason names the cut: too small for a footer, no footer (the copy is
                // then used and the header or a block lies past the end).
                let name: String =
                    switch error {
                    case .invalidField(let field, _, _): field
                    case .truncated(let structure, _, _): "truncated \(structure)"
                    case .batEntryOutsideFile: "bat"
                    default: "\(error)"
                    }
                refusals[name, default: 0] += 1
                if length < 512 {
                    #expect(name == "truncated footer", "\(length): \(error)")
                } else if length > firstBlock {
                    #expect(
                        name == "bat",
                        "a cut inside the blocks leaves a BAT entry outside the file (\(length)): \(error)")
                }
            }
        }
        #expect(refusals.values.reduce(0, +) == lengths.count - 1, "\(refusals)")
    }
}
