import Foundation
import TestSupport
import Testing

/// Every input of the committed fuzz corpus (`Tests/VHDFuzz/Corpus`), findings included, runs
/// through the fuzz target's checks (the plain build of `vhd-fuzz`, which replays files) without
/// breaking an invariant: a fixed finding stays fixed.
@Suite(.enabled(if: builtExecutable(named: "vhd-fuzz") != nil, "vhd-fuzz executable not found next to the test bundle"))
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("VHDFuzz/Corpus").path

    @Test func everyCorpusInputPassesTheFuzzTargetsInvariants() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus)
            .filter { !$0.hasSuffix(".md") }.sorted().map { Self.corpus + "/" + $0 }
        try #require(files.count >= 4, "the corpus is missing: \(Self.corpus)")
        #expect(files.contains { $0.hasSuffix("/finding-failed-write-unopenable.bin") })
        let result = try runProcess(try #require(builtExecutable(named: "vhd-fuzz")), files)
        #expect(result.status == 0, "\(result.standardError.prefix(2000))")
        for file in files { #expect(result.text.contains("ok \(file)\n"), "\(file) was not replayed") }
    }
}
