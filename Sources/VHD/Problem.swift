import BlockStorage

/// One finding of ``VHDImage/check(path:repair:)`` or of the validation `open` performs.
public struct VHDProblem: Sendable, Equatable, CustomStringConvertible {
    /// How bad a finding is.
    public enum Severity: String, Sendable, Equatable {
        /// The image cannot be opened safely.
        case fatal
        /// The image opens (using a redundant copy or ignoring unused space) but is damaged;
        /// `check` fails.
        case damaged
        /// Unusual but harmless; `check` passes.
        case notice
    }

    /// What `check --repair` does about a finding.
    public enum Repair: Sendable, Equatable {
        /// Rewrite the trailing footer from the valid copy at offset 0.
        case restoreTrailingFooter
        /// Rewrite the footer copy at offset 0 from the valid trailing footer.
        case restoreFooterCopy
        /// Mark the block unallocated.
        case dropBATEntry(Int)
    }

    public let severity: Severity
    public let error: VHDError
    public let repair: Repair?

    public init(_ severity: Severity, _ error: VHDError, repair: Repair? = nil) {
        self.severity = severity
        self.error = error
        self.repair = repair
    }

    public var description: String { "\(severity.rawValue): \(error)" }
}
