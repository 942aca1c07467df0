/// For one free range, or the maximum over a subtree of free ranges: the longest request
/// that fits at each of eight fixed alignments (1 B, 4 B, 16 B, 256 B, 4 KiB, 64 KiB,
/// 2 MiB, 1 GiB).
///
/// For a range `[s, e)` and alignment `2^k` the usable length is `e - alignUp(s, 2^k)`
/// (zero when the aligned start is past the end). A request of `size` at alignment
/// `2^k` fits in the range exactly when this is at least `size`. Other alignments get an
/// exact augmentation of their own in ``FreeRangeTree`` on first use.
struct UsableLengths: Equatable {
    /// log2 of the alignment of each class, ascending.
    static let classShifts: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 2, 4, 8, 12, 16, 21, 30)
    static let classCount = 8

    var c0: UInt64 = 0, c1: UInt64 = 0, c2: UInt64 = 0, c3: UInt64 = 0
    var c4: UInt64 = 0, c5: UInt64 = 0, c6: UInt64 = 0, c7: UInt64 = 0

    init() {}

    /// The usable lengths of the single range `[start, end)`.
    init(start: UInt64, end: UInt64) {
        @inline(__always) func usable(_ shift: UInt64) -> UInt64 {
            Self.usable(start: start, end: end, shift: shift)
        }
        let s = Self.classShifts
        c0 = end &- start
        c1 = usable(s.1); c2 = usable(s.2); c3 = usable(s.3)
        c4 = usable(s.4); c5 = usable(s.5); c6 = usable(s.6); c7 = usable(s.7)
    }

    /// The usable length of `[start, end)` at alignment `2^shift` (`shift < 64`).
    @inline(__always)
    static func usable(start: UInt64, end: UInt64, shift: UInt64) -> UInt64 {
        let mask: UInt64 = (1 << shift) &- 1
        let (bumped, overflow) = start.addingReportingOverflow(mask)
        if overflow { return 0 }
        let aligned = bumped & ~mask
        return aligned < end ? end &- aligned : 0
    }

    @inline(__always)
    mutating func formMax(_ o: UsableLengths) {
        c0 = Swift.max(c0, o.c0); c1 = Swift.max(c1, o.c1)
        c2 = Swift.max(c2, o.c2); c3 = Swift.max(c3, o.c3)
        c4 = Swift.max(c4, o.c4); c5 = Swift.max(c5, o.c5)
        c6 = Swift.max(c6, o.c6); c7 = Swift.max(c7, o.c7)
    }

    @inline(__always)
    subscript(index: Int) -> UInt64 {
        switch index {
        case 0: return c0
        case 1: return c1
        case 2: return c2
        case 3: return c3
        case 4: return c4
        case 5: return c5
        case 6: return c6
        default: return c7
        }
    }

    /// The class whose usable length bounds a request at alignment `2^shift` from above
    /// (the largest class alignment not above it), and whether that bound is exact.
    static func boundingClass(forShift shift: UInt64) -> (index: Int, exact: Bool) {
        let s = classShifts
        let shifts = [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7]
        var index = 0
        for i in 1..<classCount where shifts[i] <= shift { index = i }
        return (index, shifts[index] == shift)
    }
}
