import BlockStorage

/// One finding of ``VHDImage/check(path:repair:locking:)`` or of the validation `open` performs.
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

    /// How bad the finding is.
    public let severity: Severity
    /// What is wrong, naming the structure field at fault.
    public let error: VHDError
    /// What `check --repair` would do about it, or nil when it cannot repair it.
    public let repair: Repair?

    /// A finding of `severity` described by `error`, repairable by `repair` if given.
    public init(_ severity: Severity, _ error: VHDError, repair: Repair? = nil) {
        self.severity = severity
        self.error = error
        self.repair = repair
    }

    /// `severity: error`, e.g. `damaged: footer.checksum: stored 0x…, computed 0x…`.
    public var description: String { "\(severity.rawValue): \(error)" }
}
