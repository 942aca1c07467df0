import Synchronization

/// Per-vCPU exit counters and handling-latency histograms, one of each per ``ExitKind``.
///
/// The run loop records every exit with the nanoseconds the VMM spent handling it (from the
/// return of `KVM_RUN` to the next entry). Recording is lock-free (relaxed atomics): readers on
/// other threads see a consistent-enough picture for monitoring, exact once the vCPU stops.
public final class ExitStatistics: @unchecked Sendable {
    /// Latency buckets: bucket `i` holds handling times in `[2^i, 2^(i+1))` ns; bucket 0 also
    /// holds 0 ns. 40 buckets reach beyond 10 minutes.
    public static let bucketCount = 40

    private static let kinds = ExitKind.allCases.count
    /// One allocation of atomic counters: per kind a count and a total, then the buckets.
    private let cells: UnsafeMutablePointer<Atomic<UInt64>>
    private static let cellCount = kinds * (2 + bucketCount)

    /// `CLOCK_MONOTONIC` time at which the latest kicked `KVM_RUN` returned (`interrupted`
    /// exit), 0 before the first: what a scheduler compares with its kick time to measure
    /// preemption latency.
    public var lastKickExitNanoseconds: UInt64 { lastKickExit.load(ordering: .acquiring) }
    private let lastKickExit = Atomic<UInt64>(0)

    /// Notes that a kicked `KVM_RUN` returned at `time` (called by the run loop).
    @inline(__always)
    func recordKickExit(at time: UInt64) { lastKickExit.store(time, ordering: .releasing) }

    /// Statistics with every count at zero.
    public init() {
        cells = .allocate(capacity: Self.cellCount)
        for i in 0..<Self.cellCount { (cells + i).initialize(to: Atomic(0)) }
    }

    deinit {
        cells.deinitialize(count: Self.cellCount)
        cells.deallocate()
    }

    @inline(__always) private func counter(_ kind: ExitKind) -> UnsafeMutablePointer<Atomic<UInt64>> {
        cells + kind.rawValue
    }

    @inline(__always) private func total(_ kind: ExitKind) -> UnsafeMutablePointer<Atomic<UInt64>> {
        cells + Self.kinds + kind.rawValue
    }

    @inline(__always) private func bucket(_ kind: ExitKind, _ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        cells + 2 * Self.kinds + kind.rawValue * Self.bucketCount + index
    }

    /// Records one exit of `kind` handled in `nanoseconds`.
    @inline(__always)
    public func record(_ kind: ExitKind, nanoseconds: UInt64) {
        counter(kind).pointee.add(1, ordering: .relaxed)
        total(kind).pointee.add(nanoseconds, ordering: .relaxed)
        let index = min(Self.bucketCount - 1, nanoseconds == 0 ? 0 : 63 - nanoseconds.leadingZeroBitCount)
        bucket(kind, index).pointee.add(1, ordering: .relaxed)
    }

    /// The number of exits of `kind` so far.
    public func count(_ kind: ExitKind) -> UInt64 { counter(kind).pointee.load(ordering: .relaxed) }

    /// The total number of exits.
    public var totalCount: UInt64 { ExitKind.allCases.reduce(0) { $0 + count($1) } }

    /// The handling time of every exit so far, all kinds together (what a scheduler charges
    /// to the vCPU as T_io: take the difference over a slice).
    public var totalNanoseconds: UInt64 {
        ExitKind.allCases.reduce(0) { $0 &+ total($1).pointee.load(ordering: .relaxed) }
    }

    /// A copy of the statistics of one kind.
    public func summary(_ kind: ExitKind) -> ExitSummary {
        ExitSummary(
            kind: kind, count: count(kind), totalNanoseconds: total(kind).pointee.load(ordering: .relaxed),
            histogram: (0..<Self.bucketCount).map { bucket(kind, $0).pointee.load(ordering: .relaxed) })
    }

    /// Summaries of every kind that occurred, most frequent first.
    public var summaries: [ExitSummary] {
        ExitKind.allCases.map(summary).filter { $0.count > 0 }.sorted { $0.count > $1.count }
    }
}

/// The statistics of one exit kind at one moment.
public struct ExitSummary: Hashable, Sendable {
    /// The exit kind summarised.
    public let kind: ExitKind
    /// The number of exits of this kind.
    public let count: UInt64
    /// Total handling time in nanoseconds.
    public let totalNanoseconds: UInt64
    /// Power-of-two latency buckets (see ``ExitStatistics/bucketCount``).
    public let histogram: [UInt64]

    /// Mean handling time in nanoseconds.
    public var meanNanoseconds: Double { count == 0 ? 0 : Double(totalNanoseconds) / Double(count) }

    /// An upper bound of the `p`-quantile (0…1) of handling time in nanoseconds: the top of the
    /// bucket that holds it (0 when there were no exits).
    public func quantileUpperBound(_ p: Double) -> UInt64 {
        let target = UInt64((Double(count) * min(max(p, 0), 1)).rounded(.up))
        var seen: UInt64 = 0
        for (i, n) in histogram.enumerated() {
            seen += n
            if seen >= max(target, 1) { return (1 << UInt64(i + 1)) - 1 }
        }
        return 0
    }
}
