@testable import GuestMemory

#if canImport(Glibc)
    import Glibc
#endif

/// How a test's ``AtomicGuestMemory`` keeps its readers' sections.
enum ReadSectionSetup: String, CaseIterable, Sendable {
    /// Compiler barriers on the read side and membarrier(2) on the write side — the default
    /// (full fences where membarrier(2) is unavailable).
    case processBarrier
    /// Full fences on the read side, as without membarrier(2).
    case fullFences
    /// A table of two records, fewer than the threads: some readers find no record.
    case tableFull

    /// A fresh domain of this kind (never the shared one, so other tests' readers do not
    /// hold back this test's reclamation).
    func domain() -> ReaderDomain {
        switch self {
        case .processBarrier: ReaderDomain(capacity: 64)
        case .fullFences: ReaderDomain(capacity: 64, asymmetric: false)
        case .tableFull: ReaderDomain(capacity: 2)
        }
    }
}

/// Yields until `condition` holds; `false` if it still does not after many tries (a test then
/// fails instead of hanging).
func yielding(until condition: () -> Bool) -> Bool {
    for _ in 0..<2_000_000 {
        if condition() { return true }
        sched_yield()
    }
    return condition()
}
