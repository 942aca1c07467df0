import ArgumentParser
import HostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Writes text to standard error.
func printError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

/// Writes raw bytes to standard output (HostSupport's retrying transfer); `false` when it fails.
func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    return
        (try? SystemCall.transferAll(bytes.count, "write", zeroEndsTransfer: false) { done in
            write(1, base + done, bytes.count - done)
        }) != nil
}

/// Reads all of standard input.
func readStandardInput() -> [UInt8] {
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n =
            (try? chunk.withUnsafeMutableBytes { (buffer) throws(SystemCallError) -> Int in
                try SystemCall.retrying("read") { read(0, buffer.baseAddress, buffer.count) }
            }) ?? 0
        if n <= 0 { break }
        data += chunk[0..<n]
    }
    return data
}

/// A progress bar on standard error, drawn only when standard error is a terminal.
struct ProgressBar {
    let label: String
    let enabled: Bool
    private var lastPercent = -1

    /// A bar drawn when `mode` says so (by default: when standard error is a terminal).
    init(_ label: String, mode: ProgressMode = ProgressMode()) {
        self.label = label
        enabled = mode.quiet ? false : (mode.force || isatty(2) == 1)
    }

    mutating func update(_ fraction: Double) {
        guard enabled else { return }
        let percent = Int((min(max(fraction, 0), 1) * 100).rounded(.down))
        guard percent != lastPercent else { return }
        lastPercent = percent
        let width = 30
        let filled = percent * width / 100
        printErrorRaw(
            "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                + "] \(percent)%")
    }

    func finish() {
        guard enabled, lastPercent >= 0 else { return }
        printErrorRaw("\n")
    }

    private func printErrorRaw(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}

/// `-p` / `-q`, as qemu-img has them: force the progress bar, or never draw it.
struct ProgressMode: ParsableArguments {
    @Flag(name: .customShort("p"), help: "Show progress even when standard error is not a terminal.")
    var force = false
    @Flag(name: .customShort("q"), help: "Never show progress.")
    var quiet = false

    init() {}

    func validate() throws {
        if force && quiet { throw ValidationError("-p and -q contradict each other") }
    }
}

/// Runs `body` with a progress callback that draws a bar labelled `label` (see ``ProgressMode``).
func withProgress<T>(
    _ label: String, mode: ProgressMode = ProgressMode(), _ body: (_ update: (Double) -> Void) throws -> T
)
    rethrows -> T
{
    var bar = ProgressBar(label, mode: mode)
    let result = try body { bar.update($0) }
    bar.finish()
    return result
}
