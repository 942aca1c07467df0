import TestSupport
import Testing

@testable import VHD

/// `check --repair` under fault injection: a crash at any of its writes leaves an image that is
/// the old damaged one, the repaired one, or one with some repairs done — never new damage;
/// `check` reports whatever is left, and repairing again finishes the job.
@Suite struct RepairCrashTests {
    enum Damage: String, CaseIterable, CustomStringConvertible {
        /// The trailing footer's checksum is wrong; bat[9] and bat[11] point past the file.
        case trailingFooter
        /// The footer copy at 0 is garbage; bat[9] and bat[11] point past the file.
        case footerCopy

        var description: String { rawValue }
    }

    /// A 1 MiB dynamic image (64 KiB blocks) with data in blocks 0, 3 and 7, then damaged.
    static func damaged(_ damage: Damage, path: String) throws -> (bytes: [UInt8], disk: [UInt8]) {
        let io = FaultyIO()
        var options = VHDCreateOptions(type: .dynamic, size: 1 << 20)
        options.blockSize = 64 << 10
        let image = try VHDImage.create(io: io, path: path, options: options)
        var disk = [UInt8](repeating: 0, count: 1 << 20)
        for block in [0, 3, 7] {
            let data = pattern(20_000, seed: 90 + UInt64(block))
            try image.write(data, at: UInt64(block) << 16)
            disk.replaceSubrange(block << 16..<(block << 16) + 20_000, with: data)
        }
        try image.flush()
        var bytes = io.current
        let tableOffset = Int(try #require(image.header?.tableOffset))
        let pastTheEnd = UInt32(bytes.count / 512 + 1000)
        bytes.setBE32(pastTheEnd, at: tableOffset + 9 * 4)
        bytes.setBE32(pastTheEnd + 500, at: tableOffset + 11 * 4)
        switch damage {
        case .trailingFooter: bytes[bytes.count - 512 + 64] ^= 0x5A
        case .footerCopy: for i in 0..<512 { bytes[i] = UInt8(truncatingIfNeeded: i &* 7) }
        }
        return (bytes, disk)
    }

    @Test(arguments: Damage.allCases)
    func repairSurvivesACrashAtEveryWrite(damage: Damage) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("r.vhd")
        let (bytes, disk) = try Self.damaged(damage, path: path)
        let original = try VHDImage.checkImage(io: FaultyIO(bytes: bytes), path: path)
        let damages = original.problems.filter { $0.severity != .notice }
        let repairs = damages.compactMap(\.repair)
        #expect(repairs.count == 3 && damages.count == 3, "\(original.problems)")

        let undisturbed = FaultyIO(bytes: bytes)
        let report = try VHDImage.checkImage(io: undisturbed, path: path, repair: true)
        #expect(report.isClean, "\(report.problems)")
        #expect(report.repaired.count == 3)
        let total = undisturbed.writeCount
        #expect(total >= 3)

        for crashAt in 0...total {
            let io = FaultyIO(bytes: bytes, writesAllowed: crashAt)
            _ = try? VHDImage.checkImage(io: io, path: path, repair: true)
            for (name, variant) in io.crashVariants() {
                let label = "\(damage): crash at \(crashAt), \(name)"
                let left = try VHDImage.checkImage(io: FaultyIO(bytes: variant), path: path).problems.filter {
                    $0.severity != .notice
                }
                for problem in left where !(problem.repair.map(repairs.contains) ?? false) {
                    Issue.record("\(label): a problem the damaged image did not have: \(problem)")
                }
                if variant == bytes {
                    #expect(left.count == damages.count, "\(label): the old damaged image is still reported")
                }
                if left.isEmpty {
                    let image = try VHDImage.open(io: FaultyIO(bytes: variant), path: path, readOnly: true)
                    #expect(try difference(contents(of: image), disk) == nil, "\(label)")
                }
                // Repairing again finishes the job.
                let again = FaultyIO(bytes: variant)
                let second = try VHDImage.checkImage(io: again, path: path, repair: true)
                #expect(second.isClean, "\(label): \(second.problems)")
                let image = try VHDImage.open(io: FaultyIO(bytes: again.current), path: path, readOnly: true)
                #expect(try difference(contents(of: image), disk) == nil, "\(label)")
            }
        }
    }
}
