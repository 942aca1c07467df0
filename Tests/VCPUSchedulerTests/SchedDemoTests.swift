import Foundation
import TestSupport
import Testing

/// The `sched-demo` executable next to the test bundle.
let schedDemoTool: String? = builtExecutable(named: "sched-demo")

/// `sched-demo`, run as a process: invalid options are usage errors (exit 64) with a message
/// naming the option, a directory it cannot create is a failure naming it (exit 1), and a short
/// run writes one timeline per policy and run kind and exits 0.
@Suite(.usesKVM, .enabled(if: schedDemoTool != nil, "sched-demo executable not found next to the test bundle"))
struct SchedDemoTests {
    static var tool: String? { schedDemoTool }

    @Test func invalidOptionsAreUsageErrors() throws {
        for (arguments, message) in [
            (["--seconds", "abc"], "--seconds"), (["--seconds", "-1"], "--seconds must be more than 0"),
            (["--seconds", "0"], "--seconds must be more than 0"), (["--seconds", "nan"], "--seconds must be"),
            (["--bogus"], "--bogus"),
        ] {
            let result = try runProcess(Self.tool!, arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
    }

    @Test func aDirectoryItCannotCreateIsAFailureNamingIt() throws {
        let dir = try TemporaryDirectory()
        try Data("a file, not a directory".utf8).write(to: URL(fileURLWithPath: dir.file("blocker")))
        let out = dir.file("blocker/timelines")
        let result = try runProcess(Self.tool!, ["--seconds", "0.05", "--out", out])
        #expect(result.status == 1)
        #expect(
            result.standardError.contains("sched-demo: \(out): cannot create the directory"), "\(result.standardError)")
    }

    @Test func aShortRunWritesEveryTimeline() throws {
        let dir = try TemporaryDirectory()
        let result = try runProcess(Self.tool!, ["--seconds", "0.05", "--out", dir.path, "--inherit"])
        #expect(result.status == 0, "\(result.standardError)")
        let svgs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".svg") }
        // Five policies, each simulated, and run on real vCPUs when /dev/kvm is usable.
        let kinds = FileManager.default.isWritableFile(atPath: "/dev/kvm") ? 2 : 1
        #expect(svgs.count == 5 * kinds, "\(svgs.sorted())")
    }
}
