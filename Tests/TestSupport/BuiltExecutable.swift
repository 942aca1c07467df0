// Running the package's own executables (examples, tools) from tests: they are built with the
// tests, next to the test bundle.
import Foundation

/// The output of a finished process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var standardOutput: [UInt8]
    public var standardError: String

    /// Standard output as UTF-8 text.
    public var text: String { String(decoding: standardOutput, as: UTF8.self) }
}

/// Finds the executable product `name` in the build directory that holds the running tests.
public func builtExecutable(named name: String) -> String? {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

/// Runs `path` with `arguments`, feeding `input` on standard input, and waits for it.
public func runProcess(_ path: String, _ arguments: [String], input: [UInt8] = []) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), stdin = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin
    try process.run()
    stdin.fileHandleForWriting.write(Data(input))
    try stdin.fileHandleForWriting.close()
    // Error output is a line or two: reading it after standard output cannot block.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, standardOutput: [UInt8](outData),
        standardError: String(decoding: errData, as: UTF8.self))
}
