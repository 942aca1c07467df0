/// What a real dispatcher spends deciding, apart from running guests: for each slice a worker
/// started at once after the previous one ended (no vCPU waited for, no sleep), the time from
/// the end of one slice to the start of the next — accounting the slice that ended, taking the
/// lock, asking the policy, pinning — added up.
public struct DecisionCost: Sendable, Equatable {
    /// Decisions measured (those made without sleeping in between).
    public var decisions: UInt64 = 0
    /// Their total time.
    public var nanoseconds: Nanoseconds = 0

    /// None yet.
    public init() {}

    /// Mean nanoseconds per decision, or `nil` before the first.
    public var mean: Double? { decisions > 0 ? Double(nanoseconds) / Double(decisions) : nil }

    /// Adds one decision that took `nanoseconds`.
    public mutating func record(_ nanoseconds: Nanoseconds) {
        decisions &+= 1
        self.nanoseconds &+= nanoseconds
    }
}
