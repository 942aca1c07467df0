#if canImport(Glibc)
    import Glibc
#endif

/// Writes text to standard error.
func printError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

/// Writes raw bytes to standard output.
func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var done = 0
    while done < bytes.count {
        let n = write(1, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return false
        }
        done += n
    }
    return true
}

/// Reads all of standard input.
func readStandardInput() -> [UInt8] {
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        data += chunk[0..<n]
    }
    return data
}

/// A progress bar on standard error, drawn only when standard error is a terminal.
struct ProgressBar {
    let label: String
    let enabled = isatty(2) == 1
    private var lastPercent = -1

    init(_ label: String) { self.label = label }

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

/// Runs `body` with a progress callback that draws a bar labelled `label` on a terminal.
func withProgress<T>(_ label: String, _ body: (_ update: (Double) -> Void) throws -> T) rethrows -> T {
    var bar = ProgressBar(label)
    let result = try body { bar.update($0) }
    bar.finish()
    return result
}
