// Shared by the examples' command lines (vhd, linux-vm): one parser for byte counts.
import ArgumentParser

/// A byte count given on the command line: a number with an optional binary suffix `K`, `M`,
/// `G` or `T` (or `KiB`, `MiB`, `GiB`, `TiB`), always powers of 1024. Anything else (`10MB`,
/// `10m`, `1.5G`) is refused rather than guessed at.
public struct ByteCount: ExpressibleByArgument, Sendable {
    /// The number of bytes.
    public let value: UInt64

    /// Parses `argument` (see ``parse(_:)``).
    public init?(argument: String) {
        guard let value = ByteCount.parse(argument) else { return nil }
        self.value = value
    }

    /// The bytes `text` counts, or `nil` when it is not a whole number with an optional binary suffix.
    public static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var unit = ""
        while let last = digits.last, last.isLetter {
            unit = String(last) + unit
            digits = digits.dropLast()
        }
        guard digits.first?.isNumber == true, let number = UInt64(digits) else { return nil }
        let shifts: [String: UInt64] = [
            "": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30, "T": 40, "TiB": 40,
        ]
        guard let shift = shifts[unit] else { return nil }
        let (result, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : result
    }

    /// Parses an option's value, saying why one is refused: a negative number (taken as the
    /// value, not as an option, so `--offset -1` is not "missing a value"), or anything that is
    /// not a whole number with a binary suffix.
    public static func argument(_ text: String) throws -> ByteCount {
        if let count = ByteCount(argument: text) { return count }
        if text.hasPrefix("-"), text.dropFirst().first?.isNumber == true {
            throw ValidationError("'\(text)' is negative: sizes and offsets count bytes from 0")
        }
        throw ValidationError(
            "'\(text)' is not a byte count: a whole number, optionally with K, M, G or T (or KiB, MiB, GiB, TiB)")
    }

    /// No completion: any number.
    public static let defaultCompletionKind = CompletionKind.default
}
