import Foundation

/// A small JSON value with stable key order, for `--json` output.
enum JSON {
    case string(String)
    case number(UInt64)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    static func optional(_ text: String?) -> JSON { text.map(JSON.string) ?? .null }
    static func optional(_ number: UInt64?) -> JSON { number.map(JSON.number) ?? .null }

    var rendered: String {
        switch self {
        case .string(let s): return JSON.quote(s)
        case .number(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.rendered).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.map { JSON.quote($0.0) + ": " + $0.1.rendered }.joined(separator: ", ") + "}"
        }
    }

    /// The string as a JSON string literal (escaped by Foundation's encoder).
    static func quote(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(s)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }
}
