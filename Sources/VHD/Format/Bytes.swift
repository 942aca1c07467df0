import BlockStorage

// Big-endian field access on byte arrays, as every VHD structure is big-endian.

extension Array where Element == UInt8 {
    func be16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    func be32(_ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(self[offset + i]) }
        return value
    }

    func be64(_ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(self[offset + i]) }
        return value
    }

    func le32(_ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in (0..<4).reversed() { value = value << 8 | UInt32(self[offset + i]) }
        return value
    }

    mutating func setBE16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(value & 0xFF)
    }

    mutating func setBE32(_ value: UInt32, at offset: Int) {
        for i in 0..<4 { self[offset + i] = UInt8((value >> UInt32(24 - 8 * i)) & 0xFF) }
    }

    mutating func setBE64(_ value: UInt64, at offset: Int) {
        for i in 0..<8 { self[offset + i] = UInt8((value >> UInt64(56 - 8 * i)) & 0xFF) }
    }

    /// The bytes of `range` as a four-character code (`"conectix"`, `"vpc "`, …), with
    /// unprintable bytes shown as `\xNN`.
    func ascii(_ range: Range<Int>) -> String {
        var text = ""
        for byte in self[range] {
            if byte >= 0x20, byte < 0x7F {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return text
    }
}

/// The VHD checksum: the one's complement of the byte sum of the structure, with the
/// checksum field (four bytes at `checksumOffset`) counted as zero.
func vhdChecksum(_ bytes: [UInt8], checksumOffset: Int) -> UInt32 {
    var sum: UInt32 = 0
    for (i, byte) in bytes.enumerated() where i < checksumOffset || i >= checksumOffset + 4 {
        sum &+= UInt32(byte)
    }
    return ~sum
}

/// Checks the size, cookie and checksum of a footer or header and returns the stored
/// checksum; errors name `<name>.cookie` or `<name>.checksum`.
func checkCookieAndChecksum(_ bytes: [UInt8], size: Int, name: String, cookie: String, checksumOffset: Int)
    throws(VHDError) -> UInt32
{
    guard bytes.count >= size else {
        throw .truncated(structure: name, needed: UInt64(size), fileSize: UInt64(bytes.count))
    }
    let found = bytes.ascii(0..<8)
    guard found == cookie else { throw .badCookie(field: "\(name).cookie", expected: cookie, found: found) }
    let stored = bytes.be32(checksumOffset)
    let computed = vhdChecksum(Array(bytes[0..<size]), checksumOffset: checksumOffset)
    guard stored == computed else { throw .badChecksum(field: "\(name).checksum", stored: stored, computed: computed) }
    return stored
}

/// How many `blockSize`-byte blocks cover `size` bytes; no overflow for any `size` (an
/// untrusted footer may claim up to 2^64 − 1).
func blockCount(covering size: UInt64, blockSize: UInt64) -> UInt64 {
    size / blockSize + (size % blockSize == 0 ? 0 : 1)
}
