import ArgumentParser

/// A byte count given on the command line: a number with an optional binary suffix `K`, `M`,
/// `G` or `T` (or `KiB`, `MiB`, `GiB`, `TiB`), always powers of 1024. Anything else (`10MB`,
/// `10m`, `1.5G`) is refused rather than guessed at.
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

    static let defaultCompletionKind = CompletionKind.default
}
