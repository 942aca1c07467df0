import Foundation
import Testing
@testable import VHD

@Suite struct ImageTests {
    @Test(arguments: [VHDDiskType.fixed, .dynamic])
    func createWriteReopenRead(type: VHDDiskType) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.vhd")
        let data = pattern(3 << 20, seed: 1)
        do {
            var options = VHDCreateOptions(type: type, size: 8 << 20)
            options.blockSize = 1 << 20
            let image = try VHDImage.create(path: path, options: options)
            try image.write(data, at: 1234)
            try image.flush()
        }
        let image = try VHDImage.open(path: path, readOnly: true)
        #expect(image.capacity == 8 << 20)
        #expect(image.openProblems.isEmpty)
        var expected = [UInt8](repeating: 0, count: 8 << 20)
        expected.replaceSubrange(1234..<1234 + data.count, with: data)
        #expect(try difference(contents(of: image), expected) == nil)
        let report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")
    }
}
