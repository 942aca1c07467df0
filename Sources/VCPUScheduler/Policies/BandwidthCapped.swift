/// Adds bandwidth caps to any policy: a vCPU whose parameters carry a ``BandwidthCap`` runs at
/// most `quota` in every `period` (cgroup `cpu.max`), whatever the inner policy decides.
///
/// Periods are aligned to multiples of the cap's period from time 0. A picked vCPU's slice is
/// cut to its remaining quota; when the quota is used up the vCPU is *throttled*: it leaves
/// the inner policy's run queue (as if blocked) until the next period starts, then rejoins it
/// if it is still runnable. CPU time of a slice that crosses a period boundary is charged to
/// the period it ran in. Throttled vCPUs wait in a heap by release time, so the wrapper adds
/// O(log n) to each operation.
///
/// ```swift
/// var policy = BandwidthCapped(WeightedFairPolicy(slice: 3_000_000))
/// try policy.add(id, parameters: .init(cap: try BandwidthCap(quota: 25_000_000, period: 100_000_000)), at: 0)
/// ```
public struct BandwidthCapped<Inner: SchedulingPolicy>: SchedulingPolicy {
    /// The policy that orders the vCPUs that are within their caps.
    public private(set) var inner: Inner

    struct Entry: Sendable {
        var cap: BandwidthCap?
        var periodIndex: UInt64 = 0
        var used: Nanoseconds = 0
        var throttled = false
        /// Runnable from the caller's point of view while throttled.
        var wantsToRun = false
        var throttles: Int = 0
    }

    private var table = VCPUTable<Entry>()
    private var throttledQueue = IndexedHeap<Nanoseconds>()  // by release time

    /// Wraps `inner`.
    public init(_ inner: Inner) { self.inner = inner }

    public var name: String { inner.name + " + cap" }

    /// How many times the vCPU has been throttled.
    public func throttleCount(of vcpu: VCPUID) -> Int? {
        table.lookup(vcpu).map { table.payloads[$0].throttles }
    }

    /// Whether the vCPU is waiting for its next period.
    public func isThrottled(_ vcpu: VCPUID) -> Bool {
        table.lookup(vcpu).map { table.payloads[$0].throttled } ?? false
    }

    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        try inner.add(vcpu, parameters: parameters, at: now)
        _ = try table.insert(vcpu, parameters: parameters, payload: Entry(cap: parameters.cap))
    }

    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let slot = try table.slot(of: vcpu)
        guard table.states[slot] != .running else {
            throw .invalidTransition(vcpu, operation: "remove", state: .running)
        }
        // The inner policy has the vCPU blocked or runnable, both removable.
        try inner.remove(vcpu, at: now)
        _ = try table.remove(vcpu)
        throttledQueue.remove(slot)
    }

    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        release(upTo: now)
        let slot = try table.transition(vcpu, "wake", from: .blocked, to: .runnable)
        if table.payloads[slot].throttled {
            table.payloads[slot].wantsToRun = true
        } else {
            try inner.wake(vcpu, at: now)
        }
    }

    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        release(upTo: now)
        let slot = try table.transition(vcpu, "block", from: .runnable, to: .blocked)
        if table.payloads[slot].throttled {
            table.payloads[slot].wantsToRun = false
        } else {
            try inner.block(vcpu, at: now)
        }
    }

    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? {
        release(upTo: now)
        guard let decision = inner.pickNext(at: now) else { return nil }
        guard let slot = table.lookup(decision.vcpu) else { return decision }
        table.setState(slot, .running)
        guard let cap = table.payloads[slot].cap else { return decision }
        let used = usedInCurrentPeriod(table.payloads[slot], cap: cap, at: now)
        let remaining = cap.quota > used ? cap.quota - used : 0
        return SchedulingDecision(vcpu: decision.vcpu, slice: min(decision.slice, remaining))
    }

    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        release(upTo: now)
        let slot = try table.transition(
            vcpu, "account", from: .running, to: outcome == .preempted ? .runnable : .blocked)
        guard let cap = table.payloads[slot].cap else {
            return try inner.account(vcpu, ran: ran, at: now, outcome: outcome)
        }
        let period = now / cap.period
        let inPeriod = min(ran, now - period * cap.period)
        var entry = table.payloads[slot]
        if entry.periodIndex == period {
            entry.used &+= inPeriod
        } else {
            entry.periodIndex = period
            entry.used = inPeriod
        }
        if entry.used >= cap.quota {
            entry.throttled = true
            entry.wantsToRun = outcome == .preempted
            entry.throttles += 1
            let (next, overflow) = (period + 1).multipliedReportingOverflow(by: cap.period)
            throttledQueue.set(slot, key: overflow ? .max : next)
            table.payloads[slot] = entry
            try inner.account(vcpu, ran: ran, at: now, outcome: .blocked)
        } else {
            table.payloads[slot] = entry
            try inner.account(vcpu, ran: ran, at: now, outcome: outcome)
        }
    }

    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        release(upTo: now)
        return inner.shouldPreempt(vcpu, ranFor: ranFor, at: now)
    }

    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? {
        let own = throttledQueue.min.map { max($0.key, now) }
        guard let other = inner.nextEventTime(after: now) else { return own }
        return own.map { min($0, other) } ?? other
    }

    /// The inner policy's entitlement, limited to the cap's fraction.
    public func entitlement(of vcpu: VCPUID) -> Entitlement? {
        guard let slot = table.lookup(vcpu), var entitlement = inner.entitlement(of: vcpu) else { return nil }
        if let cap = table.payloads[slot].cap {
            entitlement.maximumFraction = min(entitlement.maximumFraction, cap.fraction)
        }
        return entitlement
    }

    public func deadlineMisses(of vcpu: VCPUID) -> Int { inner.deadlineMisses(of: vcpu) }

    public func state(of vcpu: VCPUID) -> VCPURunState? { table.state(of: vcpu) }

    // MARK: Internals

    private func usedInCurrentPeriod(_ entry: Entry, cap: BandwidthCap, at now: Nanoseconds) -> Nanoseconds {
        entry.periodIndex == now / cap.period ? entry.used : 0
    }

    /// Ends the throttling of every vCPU whose next period has started by `now`.
    private mutating func release(upTo now: Nanoseconds) {
        while let next = throttledQueue.min, next.key <= now {
            throttledQueue.remove(next.handle)
            var entry = table.payloads[next.handle]
            entry.throttled = false
            entry.used = 0
            entry.periodIndex = entry.cap.map { now / $0.period } ?? 0
            let rejoin = entry.wantsToRun
            entry.wantsToRun = false
            table.payloads[next.handle] = entry
            // The inner policy has this vCPU blocked (it was accounted as blocked when
            // throttled), so waking it cannot fail.
            if rejoin { try? inner.wake(table.ids[next.handle], at: now) }
        }
    }
}
