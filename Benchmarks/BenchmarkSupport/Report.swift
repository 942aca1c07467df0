import ArgumentParser
// Shared plumbing for the executables in Benchmarks/: a readable table or JSON, and a clock.
import HostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Command-line options every benchmark accepts.
public struct BenchmarkOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of a table.")
    public var json = false

    @Option(name: .long, help: "Number of measurement rounds (results are per round and summarised).")
    public var rounds: Int?

    public init() {}
}

/// Runs `body` once and returns the elapsed nanoseconds.
@inline(__always)
public func timeNanoseconds(_ body: () throws -> Void) rethrows -> UInt64 {
    let start = monotonicNanoseconds()
    try body()
    return monotonicNanoseconds() - start
}

/// One cell of a report: a number (printed with the given decimals) or text.
public enum ReportValue: Sendable, Equatable {
    case number(Double, decimals: Int)
    case text(String)

    public var display: String {
        switch self {
        case .number(let value, let decimals): return formatFixed(value, decimals: decimals)
        case .text(let s): return s
        }
    }

    var json: String {
        switch self {
        case .number(let value, _):
            return value.isFinite ? formatFixed(value, decimals: 6) : "null"
        case .text(let s): return jsonString(s)
        }
    }
}

/// A titled table of results that prints either aligned text or JSON.
public struct BenchmarkReport: Sendable {
    public let title: String
    public let columns: [String]
    public private(set) var rows: [[ReportValue]] = []
    public private(set) var notes: [String] = []

    public init(title: String, columns: [String]) {
        self.title = title
        self.columns = columns
    }

    public mutating func add(_ row: [ReportValue]) {
        precondition(row.count == columns.count, "row has \(row.count) cells, table has \(columns.count) columns")
        rows.append(row)
    }

    public mutating func note(_ text: String) { notes.append(text) }

    /// The table as aligned text.
    public func renderTable() -> String {
        var widths = columns.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.display.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }
        var out = title + "\n" + line(columns) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows { out += line(row.map(\.display)) + "\n" }
        for n in notes { out += "note: " + n + "\n" }
        return out
    }

    /// The table as a JSON object: `{"title": …, "rows": [{column: value, …}], "notes": […]}`.
    public func renderJSON() -> String {
        let objects = rows.map { row in
            "{" + zip(columns, row).map { jsonString($0) + ": " + $1.json }.joined(separator: ", ") + "}"
        }
        return "{\"title\": \(jsonString(title)), \"rows\": [" + objects.joined(separator: ", ")
            + "], \"notes\": [" + notes.map(jsonString).joined(separator: ", ") + "]}"
    }

    /// Prints the report in the format `options` asks for.
    public func print(_ options: BenchmarkOptions) {
        Swift.print(options.json ? renderJSON() : renderTable())
    }
}

/// Summary statistics of a sample.
public struct Summary: Sendable {
    public let min: Double, median: Double, mean: Double, max: Double

    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "empty sample")
        let sorted = samples.sorted()
        min = sorted.first!
        max = sorted.last!
        mean = sorted.reduce(0, +) / Double(sorted.count)
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

func formatFixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return String(value) }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (abs(value) * scale).rounded()
    let integer = UInt64(rounded / scale)
    var text = (value < 0 && rounded != 0 ? "-" : "") + String(integer)
    if decimals > 0 {
        let fraction = UInt64(rounded - Double(integer) * scale)
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
