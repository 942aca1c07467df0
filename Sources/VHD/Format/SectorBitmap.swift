import BlockStorage

/// The sector bitmap in front of each block: bit set = the sector is stored in this file.
/// Bit order is most significant first (`0x80 >> (i % 8)` in byte `i / 8`).
struct SectorBitmap: Sendable, Equatable {
    var bytes: [UInt8]

    init(byteCount: Int) { bytes = [UInt8](repeating: 0, count: byteCount) }
    init(bytes: [UInt8]) { self.bytes = bytes }

    @inline(__always)
    func isSet(_ sector: Int) -> Bool { bytes[sector >> 3] & (0x80 >> UInt8(sector & 7)) != 0 }

    /// Whether every sector of `range` is set.
    func allSet(_ range: Range<Int>) -> Bool { all(range, are: true) }

    /// Whether no sector of `range` is set.
    func noneSet(_ range: Range<Int>) -> Bool { all(range, are: false) }

    /// Whether every bit of `range` equals `value` (whole bytes compared at once).
    private func all(_ range: Range<Int>, are value: Bool) -> Bool {
        let fullByte: UInt8 = value ? 0xFF : 0
        var i = range.lowerBound
        while i < range.upperBound {
            if i & 7 == 0, i + 8 <= range.upperBound {
                if bytes[i >> 3] != fullByte { return false }
                i += 8
            } else {
                if isSet(i) != value { return false }
                i += 1
            }
        }
        return true
    }

    /// Sets (or clears) every sector of `range`; returns whether any bit changed.
    @discardableResult
    mutating func assign(_ range: Range<Int>, to value: Bool) -> Bool {
        var changed = false
        var i = range.lowerBound
        while i < range.upperBound {
            if i & 7 == 0, i + 8 <= range.upperBound {
                let target: UInt8 = value ? 0xFF : 0
                if bytes[i >> 3] != target { bytes[i >> 3] = target; changed = true }
                i += 8
            } else {
                let mask: UInt8 = 0x80 >> UInt8(i & 7)
                let old = bytes[i >> 3]
                let new = value ? old | mask : old & ~mask
                if new != old { bytes[i >> 3] = new; changed = true }
                i += 1
            }
        }
        return changed
    }

    /// Maximal runs of equal bits inside `range`.
    func runs(_ range: Range<Int>) -> [(sectors: Range<Int>, set: Bool)] {
        var result: [(sectors: Range<Int>, set: Bool)] = []
        var start = range.lowerBound
        guard start < range.upperBound else { return result }
        var current = isSet(start)
        var i = start + 1
        while i < range.upperBound {
            let bit = isSet(i)
            if bit != current {
                result.append((start..<i, current))
                start = i
                current = bit
            }
            i += 1
        }
        result.append((start..<range.upperBound, current))
        return result
    }
}
