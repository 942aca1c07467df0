/// The quota accounting of one cap (a vCPU's or a VM's): CPU time used in the current
/// period, time handed out to running vCPUs and not yet accounted, and whether the cap is
/// throttling. Periods are aligned to multiples of the cap's period from time 0.
struct CapBudget: Sendable {
    let cap: BandwidthCap
    private(set) var periodIndex: UInt64 = 0
    private(set) var used: Nanoseconds = 0
    /// Slices handed out to vCPUs now running under this cap (each cut to what was left).
    private(set) var granted: Nanoseconds = 0
    var throttled = false
    var throttles = 0

    init(_ cap: BandwidthCap) { self.cap = cap }

    /// Quota of the current period neither used nor handed out.
    func available(at now: Nanoseconds) -> Nanoseconds {
        let usedNow = used(inPeriod: now / cap.period)
        let taken = usedNow.addingReportingOverflow(granted)
        return taken.overflow || taken.partialValue >= cap.quota ? 0 : cap.quota - taken.partialValue
    }

    /// The start of the next period.
    var nextPeriod: Nanoseconds {
        let (value, overflow) = (periodIndex + 1).multipliedReportingOverflow(by: cap.period)
        return overflow ? .max : value
    }

    mutating func grant(_ slice: Nanoseconds) { granted &+= slice }

    /// CPU time charged to period `period` so far: the current period's use, or for a later
    /// period what the current one used beyond its quota and beyond the quota of the periods
    /// in between (a real vCPU overruns its slice by the time it takes to kick it out; the
    /// overrun is owed to the next period instead of being forgiven).
    private func used(inPeriod period: UInt64) -> Nanoseconds {
        if period == periodIndex { return used }
        guard period > periodIndex else { return 0 }
        let (owedQuota, overflow) = (period - periodIndex).multipliedReportingOverflow(by: cap.quota)
        return overflow || used <= owedQuota ? 0 : used - owedQuota
    }

    /// Charges a run of `ran` ending at `now` and returns the grant it had: the part before
    /// the current period to the period the budget was in (any excess is owed onwards), the
    /// rest to the current period. Returns whether the quota is used up.
    mutating func charge(ran: Nanoseconds, granted slice: Nanoseconds, at now: Nanoseconds) -> Bool {
        granted -= min(granted, slice)
        let period = now / cap.period
        let inPeriod = min(ran, now - period * cap.period)
        if periodIndex != period {
            if periodIndex < period { used &+= ran - inPeriod }
            used = used(inPeriod: period)
            periodIndex = period
        }
        used &+= inPeriod
        return used >= cap.quota
    }

    /// Starts the period containing `now`.
    mutating func release(at now: Nanoseconds) {
        throttled = false
        let period = now / cap.period
        used = used(inPeriod: period)
        periodIndex = period
    }
}
