/// A device's configuration space as bytes: little-endian fields put at their offsets, read back
/// at any offset and width the driver uses — what lies past its end (or past 2^64) reads as zero.
/// Every backend's `readConfig(offset:into:)` goes through one.
struct VirtioConfigSpace {
    private var bytes: [UInt8]

    /// `size` bytes of zeros.
    init(size: Int) {
        bytes = [UInt8](repeating: 0, count: size)
    }

    /// Puts `value` little-endian at `offset` (inside the space).
    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
    }

    /// Copies `data.count` bytes from `offset` into `data`.
    func read(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        for i in 0..<data.count {
            let (position, overflow) = offset.addingReportingOverflow(UInt64(i))
            data[i] = !overflow && position < UInt64(bytes.count) ? bytes[Int(position)] : 0
        }
    }
}
