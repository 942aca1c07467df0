/// A kernel state structure (`kvm_regs`, `kvm_sregs`, …) stored as its bytes, so a snapshot can
/// be encoded with any `Encoder`. The bytes are the x86_64 Linux ABI layout; decoding checks the
/// length against the structure's size.
public struct RawState<T>: Codable, Hashable, Sendable {
    /// The structure's bytes (`MemoryLayout<T>.size` of them).
    public let bytes: [UInt8]

    /// The bytes of `value`.
    public init(_ value: T) {
        bytes = withUnsafeBytes(of: value) { Array($0) }
    }

    /// The structure. Its size was checked when the value was made or decoded.
    public var value: T {
        bytes.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment) {
                buffer in
                buffer.copyMemory(from: raw)
                return buffer.load(as: T.self)
            }
        }
    }

    /// Decodes the bytes from a string of hexadecimal digits.
    ///
    /// - Throws: `DecodingError.dataCorrupted` when the byte count is not the structure's size,
    ///   or an error for a string that is not hexadecimal.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let bytes = try hexDecode(try container.decode(String.self))
        guard bytes.count == MemoryLayout<T>.size else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(T.self) needs \(MemoryLayout<T>.size) bytes, found \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Encodes the bytes as one string of lowercase hexadecimal digits.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hexEncode(bytes))
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

func hexEncode(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 0xf)])
    }
    return String(decoding: out, as: UTF8.self)
}

struct HexDecodingError: Error, CustomStringConvertible {
    let description: String
}

func hexDecode(_ text: String) throws -> [UInt8] {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { throw HexDecodingError(description: "odd number of hex digits") }
    func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: throw HexDecodingError(description: "invalid hex digit \(c)")
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        out.append(try nibble(chars[i]) << 4 | nibble(chars[i + 1]))
        i += 2
    }
    return out
}
