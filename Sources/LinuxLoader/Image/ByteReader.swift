/// Little-endian fields of a byte array, every read bounds-checked: a field past the end is a
/// ``KernelImageError/truncated(structure:needed:fileSize:)`` naming the structure.
struct ByteReader {
    let bytes: [UInt8]

    var count: UInt64 { UInt64(bytes.count) }

    /// Whether `length` bytes from `offset` lie in the array (no overflow).
    func contains(offset: UInt64, length: UInt64) -> Bool {
        offset <= count && length <= count - offset
    }

    /// Fails unless `length` bytes from `offset` lie in the array.
    func require(_ structure: String, offset: UInt64, length: UInt64) throws(KernelImageError) {
        guard contains(offset: offset, length: length) else {
            let (end, overflow) = offset.addingReportingOverflow(length)
            throw .truncated(structure: structure, needed: overflow ? .max : end, fileSize: count)
        }
    }

    func value<T: FixedWidthInteger>(_ type: T.Type, at offset: UInt64, in structure: String) throws(KernelImageError)
        -> T
    {
        try require(structure, offset: offset, length: UInt64(MemoryLayout<T>.size))
        var result: T = 0
        for i in 0..<MemoryLayout<T>.size { result |= T(bytes[Int(offset) + i]) << (8 * i) }
        return result
    }

    func slice(_ offset: UInt64, _ length: UInt64) -> ArraySlice<UInt8> {
        bytes[Int(offset)..<Int(offset + length)]
    }
}
