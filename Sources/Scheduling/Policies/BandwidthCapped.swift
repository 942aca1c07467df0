/// Adds bandwidth caps to any policy (cgroup `cpu.max`): a vCPU whose parameters carry a
/// ``BandwidthCap`` runs at most `quota` in every `period`, and a VM given a cap in
/// `vmCaps` runs all its vCPUs together for at most `quota` per `period` (a VM capped at
/// 150 ms per 100 ms gets one and a half CPUs), whatever the inner policy decides.
///
/// Periods are aligned to multiples of each cap's period from time 0. A picked vCPU's slice is
/// cut to what is left of its caps; that part is handed out (reserved) until the vCPU is
/// accounted, so vCPUs of one VM running at once on several CPUs cannot overrun the VM's
/// quota. When a cap has nothing left, its vCPUs are *throttled*: they leave the inner
/// policy's run queue (as if blocked) until the next period starts, then rejoin it if they
/// are still runnable. CPU time of a slice that crosses a period boundary is charged to the
/// period it ran in; quota handed out but not used (a vCPU that halted early) is given back.
/// Throttled caps wait in heaps by release time, so the wrapper adds O(log n) per operation
/// (plus O(k) for the k vCPUs of a VM when the VM's cap throttles or releases them).
///
/// ```swift
/// var policy = BandwidthCapped(try WeightedFairPolicy(slice: 3_000_000),
///                              vmCaps: [VMID(1): try BandwidthCap(quota: 150_000_000, period: 100_000_000)])
/// try policy.add(id, parameters: .init(cap: try BandwidthCap(quota: 25_000_000, period: 100_000_000)), at: 0)
/// ```
public struct BandwidthCapped<Inner: SchedulingPolicy>: SchedulingPolicy {
    /// The policy that orders the vCPUs that are within their caps.
    public private(set) var inner: Inner

    private var table = VCPUTable<CappedVCPU>()
    private var groups: [CappedVM]
    private var groupOf: [VMID: Int] = [:]
    private var vcpuReleases = IndexedHeap<Nanoseconds>()  // slot → next period
    private var groupReleases = IndexedHeap<Nanoseconds>()  // group → next period

    /// Wraps `inner`; `vmCaps` caps whole VMs (each VM's vCPUs share its quota).
    public init(_ inner: Inner, vmCaps: [VMID: BandwidthCap] = [:]) {
        self.inner = inner
        groups = vmCaps.sorted { $0.key < $1.key }.map { CappedVM(vm: $0.key, budget: CapBudget($0.value)) }
        for (i, group) in groups.enumerated() { groupOf[group.vm] = i }
    }

    /// The inner policy's name followed by ` + cap`.
    public var name: String { inner.name + " + cap" }

    /// How many times the vCPU's own cap has throttled it.
    public func throttleCount(of vcpu: VCPUID) -> Int? {
        table.lookup(vcpu).map { table.payloads[$0].own?.throttles ?? 0 }
    }

    /// How many times the VM's cap has throttled it (`nil` for a VM without a cap).
    public func throttleCount(ofVM vm: VMID) -> Int? { groupOf[vm].map { groups[$0].budget.throttles } }

    /// Whether the vCPU waits for a new period of its own cap or of its VM's cap.
    public func isThrottled(_ vcpu: VCPUID) -> Bool { table.lookup(vcpu).map(isHeld) ?? false }

    /// Registers the vCPU with the inner policy and with its own cap (``SchedulingParameters/cap``)
    /// and its VM's cap, if any.
    ///
    /// - Throws: what the inner policy throws, e.g. ``SchedulerError/duplicateVCPU(_:)``.
    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        try inner.add(vcpu, parameters: parameters, at: now)
        let group = groupOf[vcpu.vm]
        let slot = try table.insert(
            vcpu, parameters: parameters, payload: CappedVCPU(own: parameters.cap.map(CapBudget.init), group: group))
        if let group { groups[group].members.append(slot) }
    }

    /// Forgets a vCPU that is not running, in the inner policy too.
    ///
    /// - Throws: ``SchedulerError/unknownVCPU(_:)``; ``SchedulerError/invalidTransition(_:operation:state:)``
    ///   when it is running.
    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let slot = try table.slot(of: vcpu)
        guard table.states[slot] != .running else {
            throw .invalidTransition(vcpu, operation: "remove", state: .running)
        }
        // The inner policy has the vCPU blocked or runnable, both removable.
        try inner.remove(vcpu, at: now)
        _ = try table.remove(vcpu)
        vcpuReleases.remove(slot)
        if let group = table.payloads[slot].group { groups[group].members.removeAll { $0 == slot } }
    }

    /// Makes a blocked vCPU runnable: into the inner run queue, or, while a cap throttles it, noted
    /// to rejoin when the cap's next period starts.
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is blocked.
    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try setRunnable(vcpu, true, at: now)
    }

    /// Takes a runnable vCPU off the run queue (or forgets that a throttled one wants to run).
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is runnable.
    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try setRunnable(vcpu, false, at: now)
    }

    /// The inner policy's choice, with the slice cut to what is left of the vCPU's and its VM's
    /// quota in the current period (that part is reserved until it is accounted). A choice with
    /// nothing left is throttled and the inner policy asked again; `nil` when nothing can run.
    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? {
        release(upTo: now)
        while let decision = inner.pickNext(at: now) {
            guard let slot = table.lookup(decision.vcpu) else { return decision }
            var slice = decision.slice
            var entry = table.payloads[slot]
            if let own = entry.own { slice = min(slice, own.available(at: now)) }
            if let group = entry.group { slice = min(slice, groups[group].budget.available(at: now)) }
            if slice == 0 {
                // Nothing left to hand out (in practice: the VM's quota is all granted to its
                // running vCPUs). Hold this vCPU — and, for a VM cap, the VM's other queued
                // vCPUs — until the next period or until quota comes back. The inner policy
                // has just marked it running, so accounting it cannot fail.
                _ = try? inner.account(decision.vcpu, ran: 0, at: now, outcome: .blocked)
                entry.wantsToRun = true
                if let group = entry.group, groups[group].budget.available(at: now) == 0 {
                    table.payloads[slot] = entry
                    throttle(group: group, at: now)
                } else {
                    table.payloads[slot] = entry
                    throttleOwn(slot)
                }
                continue
            }
            entry.granted = slice
            entry.own?.grant(slice)
            table.payloads[slot] = entry
            if let group = entry.group { groups[group].budget.grant(slice) }
            return table.startRunning(slot, slice: slice)
        }
        return nil
    }

    /// Charges the slice to the caps' periods (the part before a period boundary to the old period,
    /// any overrun to the next ones), returns quota granted but not used, throttles a cap that is
    /// spent, and accounts the vCPU with the inner policy (as blocked while throttled).
    ///
    /// - Throws: ``SchedulerError/invalidTransition(_:operation:state:)`` unless it is running.
    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        release(upTo: now)
        let slot = try table.stopRunning(vcpu, outcome: outcome)
        var entry = table.payloads[slot]
        let ownExhausted = entry.own?.charge(ran: ran, granted: entry.granted, at: now) ?? false
        let grant = entry.granted
        entry.granted = 0
        table.payloads[slot] = entry
        if ownExhausted { throttleOwn(slot) }
        if let group = entry.group {
            let exhausted = groups[group].budget.charge(ran: ran, granted: grant, at: now)
            if exhausted {
                throttle(group: group, at: now)
            } else if groups[group].budget.throttled && groups[group].budget.available(at: now) > 0 {
                // Quota handed out and not used came back: the VM may run again this period.
                unthrottle(group: group, at: now)
            }
        }
        if isHeld(slot) {
            table.payloads[slot].wantsToRun = outcome == .preempted
            try inner.account(vcpu, ran: ran, at: now, outcome: .blocked)
        } else {
            try inner.account(vcpu, ran: ran, at: now, outcome: outcome)
        }
    }

    /// The inner policy's answer, after starting any cap periods due by `now`.
    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        release(upTo: now)
        return inner.shouldPreempt(vcpu, ranFor: ranFor, at: now)
    }

    /// The earlier of the next period start of a throttled cap and the inner policy's next event.
    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? {
        let own = [vcpuReleases.min?.key, groupReleases.min?.key].compactMap { $0 }.min().map { max($0, now) }
        guard let other = inner.nextEventTime(after: now) else { return own }
        return own.map { min($0, other) } ?? other
    }

    /// The inner policy's entitlement, limited to the vCPU's cap and to its part of its VM's
    /// cap (the VM's cap divided among its vCPUs by the inner entitlements' weights).
    public func entitlement(of vcpu: VCPUID) -> Entitlement? {
        guard let slot = table.lookup(vcpu), var entitlement = inner.entitlement(of: vcpu) else { return nil }
        if let own = table.payloads[slot].own {
            entitlement.maximumFraction = min(entitlement.maximumFraction, own.cap.fraction)
        }
        if let group = table.payloads[slot].group {
            let total = groups[group].members.reduce(0.0) {
                $0 + (inner.entitlement(of: table.ids[$1])?.weight ?? 0)
            }
            let part = total > 0 ? entitlement.weight / total : 0
            entitlement.maximumFraction = min(entitlement.maximumFraction, groups[group].budget.cap.fraction * part)
        }
        return entitlement
    }

    /// The inner policy's count.
    public func deadlineMisses(of vcpu: VCPUID) -> Int { inner.deadlineMisses(of: vcpu) }

    /// The vCPU's state as the caller sees it (a throttled vCPU that wants to run is runnable), or
    /// `nil` when it is unknown.
    public func state(of vcpu: VCPUID) -> VCPURunState? { table.state(of: vcpu) }

    // MARK: Internals

    /// Wake (`runnable`) or block: a held vCPU only records whether it wants to run; the
    /// others go to the inner policy.
    private mutating func setRunnable(_ vcpu: VCPUID, _ runnable: Bool, at now: Nanoseconds) throws(SchedulerError) {
        release(upTo: now)
        let slot = try table.transition(
            vcpu, runnable ? "wake" : "block", from: runnable ? .blocked : .runnable,
            to: runnable ? .runnable : .blocked)
        if isHeld(slot) {
            table.payloads[slot].wantsToRun = runnable
        } else if runnable {
            try inner.wake(vcpu, at: now)
        } else {
            try inner.block(vcpu, at: now)
        }
    }

    private func isHeld(_ slot: Int) -> Bool {
        let entry = table.payloads[slot]
        return entry.own?.throttled == true || entry.group.map { groups[$0].budget.throttled } == true
    }

    /// Throttles a vCPU's own cap until its next period.
    private mutating func throttleOwn(_ slot: Int) {
        guard var own = table.payloads[slot].own else { return }
        own.throttled = true
        own.throttles += 1
        vcpuReleases.set(slot, key: own.nextPeriod)
        table.payloads[slot].own = own
    }

    /// Throttles a VM: its queued vCPUs leave the inner run queue. Running ones finish their
    /// slices, which were cut to fit the quota when they were handed out.
    private mutating func throttle(group: Int, at now: Nanoseconds) {
        guard !groups[group].budget.throttled else { return }
        groups[group].budget.throttled = true
        groups[group].budget.throttles += 1
        groupReleases.set(group, key: groups[group].budget.nextPeriod)
        for member in groups[group].members {
            let ownThrottled = table.payloads[member].own?.throttled == true
            switch table.states[member] {
            case .runnable where !ownThrottled && !table.payloads[member].wantsToRun:
                // In the inner run queue (runnable, not held): taking it out cannot fail.
                _ = try? inner.block(table.ids[member], at: now)
                table.payloads[member].wantsToRun = true
            default:
                break
            }
        }
    }

    /// Ends a VM's throttling: its vCPUs that want to run and are not held by their own caps
    /// rejoin the inner run queue.
    private mutating func unthrottle(group: Int, at now: Nanoseconds) {
        groups[group].budget.throttled = false
        groupReleases.remove(group)
        // Rotate who rejoins first, so that a FIFO inner policy does not always favour the
        // VM's first vCPU when the quota runs out mid-round.
        let members = groups[group].members
        let first = members.isEmpty ? 0 : groups[group].rotation % members.count
        for j in members.indices { rejoin(members[(first + j) % members.count], at: now) }
        groups[group].rotation &+= 1
    }

    /// Puts a vCPU that waited for its caps back into the inner run queue if it wants to run
    /// and nothing holds it any more. The inner policy has it blocked, so waking cannot fail.
    private mutating func rejoin(_ slot: Int, at now: Nanoseconds) {
        guard table.payloads[slot].wantsToRun, table.states[slot] == .runnable, !isHeld(slot) else { return }
        table.payloads[slot].wantsToRun = false
        _ = try? inner.wake(table.ids[slot], at: now)
    }

    /// Starts new periods for every cap whose next period has begun by `now`.
    private mutating func release(upTo now: Nanoseconds) {
        while let next = vcpuReleases.min, next.key <= now {
            vcpuReleases.remove(next.handle)
            table.payloads[next.handle].own?.release(at: now)
            rejoin(next.handle, at: now)
        }
        while let next = groupReleases.min, next.key <= now {
            groups[next.handle].budget.release(at: now)
            unthrottle(group: next.handle, at: now)
        }
    }
}

/// What ``BandwidthCapped`` keeps per vCPU (outside the generic type, so its metadata is
/// static).
struct CappedVCPU: Sendable {
    var own: CapBudget?
    var group: Int?
    /// Runnable from the caller's point of view while throttled (the inner policy has it
    /// blocked).
    var wantsToRun = false
    /// The slice handed out when it was picked.
    var granted: Nanoseconds = 0
}

/// What ``BandwidthCapped`` keeps per capped VM.
struct CappedVM: Sendable {
    let vm: VMID
    var budget: CapBudget
    var members: [Int] = []
    var rotation = 0
}
