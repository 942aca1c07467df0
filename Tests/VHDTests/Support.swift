import Foundation
import TestSupport
import Testing

@testable import BlockStorage
@testable import VHD

/// Which third-party oracles are installed.
enum ToolCheck {
    static let qemuImg = which("qemu-img")
    static let qemuIO = which("qemu-io")
    static let vhdiinfo = which("vhdiinfo")
    static let pyvhdi: Bool = {
        guard which("python3") else { return false }
        return (try? run("python3", ["-c", "import pyvhdi"])) != nil
    }()

    static func which(_ tool: String) -> Bool {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            if FileManager.default.isExecutableFile(atPath: "\(dir)/\(tool)") { return true }
        }
        return false
    }
}

struct ToolFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs a tool, returning its standard output; throws with its stderr when it fails.
@discardableResult
func run(_ tool: String, _ arguments: [String], stdin: Data? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["PYTHONPATH"] = "/usr/lib/python3/dist-packages"
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // Read both pipes before waiting so that large outputs cannot block the child.
    nonisolated(unsafe) var errData = Data()
    let errReader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errReader.isFinished { usleep(1000) }
    guard process.terminationStatus == 0 else {
        throw ToolFailure(
            description:
                "\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errData, as: UTF8.self))"
        )
    }
    return outData
}

/// Bytes following a pattern derived from `seed` (distinct per call site).
func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
}

func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Reads the whole device.
func contents(of device: some BlockDevice) throws -> [UInt8] {
    try device.read(at: 0, length: Int(device.capacity))
}

/// Nil when equal, else where and how two byte arrays first differ (short enough to print).
func difference(_ a: [UInt8], _ b: [UInt8]) -> String? {
    if a.count != b.count { return "sizes differ: \(a.count) vs \(b.count)" }
    guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return nil }
    let last = a.indices.last(where: { a[$0] != b[$0] }) ?? i
    return "first difference at byte \(i) (\(a[i]) vs \(b[i])), last at \(last)"
}

/// Runs `body`, the part of a test that checks against a third-party oracle (`name`: qemu-img,
/// libvhdi), when the tool is installed. When it is not, the skip is never silent: under CI
/// (`CI` set; `.ci/run` installs every oracle) it fails the test, elsewhere it prints which
/// oracle this run went without; the rest of the test runs either way.
func withOracle(
    _ available: Bool, _ name: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) rethrows {
    if available { return try body() }
    if ProcessInfo.processInfo.environment["CI"] != nil {
        Issue.record(
            "the \(name) oracle is not installed: CI must install it (.ci/run)", sourceLocation: sourceLocation)
    } else {
        print("note: skipped the \(name) oracle at \(sourceLocation): not installed")
    }
}
