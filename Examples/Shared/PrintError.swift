import Foundation

/// Writes `text` and a newline to standard error (the examples' one-line error reports).
public func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
