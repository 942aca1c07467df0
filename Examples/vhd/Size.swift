import ArgumentParser

/// A byte count given on the command line: a number with an optional binary suffix
/// `K`, `M`, `G` or `T` (also `KiB`, `MB`, … — always powers of 1024).
struct ByteCount: ExpressibleByArgument, Sendable {
    let value: UInt64

    init?(argument: String) {
        guard let value = ByteCount.parse(argument) else { return nil }
        self.value = value
    }

    static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var unit = ""
        while let last = digits.last, last.isLetter {
            unit = String(last).uppercased() + unit
            digits = digits.dropLast()
        }
        guard let number = UInt64(digits) else { return nil }
        let shifts: [String: UInt64] = [
            "": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20,
            "G": 30, "GB": 30, "GIB": 30, "T": 40, "TB": 40, "TIB": 40,
        ]
        guard let shift = shifts[unit] else { return nil }
        let (result, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : result
    }

    static let defaultCompletionKind = CompletionKind.default
}
