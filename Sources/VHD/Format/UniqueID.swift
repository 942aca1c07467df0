#if canImport(Glibc)
    import BlockStorage
    import Glibc
#endif

/// The 16-byte unique id of a VHD (a UUID), stored in the footer and, for a differencing
/// disk's parent, in the dynamic header.
public struct VHDUniqueID: Hashable, Sendable, CustomStringConvertible {
    /// The sixteen bytes in on-disk order.
    public let bytes: [UInt8]

    /// An id from exactly 16 bytes (missing bytes are zero, extra bytes ignored).
    public init(bytes: [UInt8]) {
        var b = Array(bytes.prefix(16))
        while b.count < 16 { b.append(0) }
        self.bytes = b
    }

    /// An id from its text: 32 hexadecimal digits in on-disk byte order, with or without the
    /// dashes of the UUID form (`01234567-89ab-cdef-0123-456789abcdef`); nil for anything else.
    public init?(parsing text: String) {
        var digits = Array(text.utf8)
        if digits.count == 36 {
            guard [8, 13, 18, 23].allSatisfy({ digits[$0] == UInt8(ascii: "-") }) else { return nil }
            digits.removeAll { $0 == UInt8(ascii: "-") }
        }
        let hex = { (c: UInt8) in (c >= 48 && c <= 57) || (c | 0x20 >= 97 && c | 0x20 <= 102) }
        guard digits.count == 32, digits.allSatisfy(hex) else { return nil }
        var b: [UInt8] = []
        for i in stride(from: 0, to: 32, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            b.append(byte)
        }
        self.init(bytes: b)
    }

    /// A fresh random (version 4) id.
    public static func random() -> VHDUniqueID {
        var generator = SystemRandomNumberGenerator()
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return VHDUniqueID(bytes: b)
    }

    /// The all-zero id.
    public static let zero = VHDUniqueID(bytes: [])

    /// The id as a lower-case UUID string in on-disk byte order.
    public var description: String {
        var text = ""
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text += "-" }
            let hex = String(byte, radix: 16)
            text += (hex.count == 1 ? "0" : "") + hex
        }
        return text
    }
}

/// VHD timestamps count seconds since 2000-01-01 00:00:00 UTC.
public enum VHDTimestamp {
    /// Seconds between the Unix epoch and the VHD epoch.
    public static let epochOffset: UInt64 = 946_684_800

    /// The current time as a VHD timestamp.
    public static func now() -> UInt32 { fromUnix(Int64(time(nil))) }

    /// The last modification time of the file at `path` as a VHD timestamp (nil when the
    /// file cannot be examined): what a differencing disk records of its parent.
    public static func modificationTime(ofFile path: String) -> UInt32? {
        var info = stat()
        return stat(path, &info) == 0 ? fromUnix(Int64(info.st_mtim.tv_sec)) : nil
    }

    /// A VHD timestamp as UTC in ISO 8601 form, e.g. `2026-11-27T13:00:33Z`.
    public static func iso8601(_ timestamp: UInt32) -> String {
        var seconds = time_t(UInt64(timestamp) + epochOffset)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    /// Unix seconds as a VHD timestamp (0 before 2000, wrapping after 2136 as the field does).
    public static func fromUnix(_ seconds: Int64) -> UInt32 {
        let unix = UInt64(max(0, seconds))
        return unix > epochOffset ? UInt32(truncatingIfNeeded: unix - epochOffset) : 0
    }
}
