/// Turns a dispatcher's state changes into per-vCPU and per-VM accounting and latency
/// samples. The simulator and a real dispatcher both feed it, so both report the same
/// figures.
///
/// Each vCPU is in one of three states, as in the policies: blocked, runnable (waiting for a
/// CPU) or running. Every call carries the time of the change; the time since the previous
/// change is added to the state the vCPU was in.
public struct SchedulerAccountant: Sendable {
    private struct Track: Sendable {
        let id: VCPUID
        var accounting = VCPUAccounting()
        var state: VCPURunState = .blocked
        var since: Nanoseconds
    }

    private var index: [VCPUID: Int] = [:]
    private var tracks: [Track] = []
    private var order: [VCPUID] = []
    /// Runnable-to-running delays, in the order they happened.
    public private(set) var latencies = LatencySamples()

    /// An accountant tracking no vCPU yet.
    public init() {}

    /// The vCPUs registered, in registration order.
    public var vcpus: [VCPUID] { order }

    /// Starts tracking a vCPU, blocked, at `now`.
    public mutating func register(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        guard index[vcpu] == nil else { throw .duplicateVCPU(vcpu) }
        index[vcpu] = tracks.count
        tracks.append(Track(id: vcpu, since: now))
        order.append(vcpu)
    }

    /// A blocked vCPU became runnable.
    public mutating func woke(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let i = try move(vcpu, "woke", from: .blocked, to: .runnable, at: now)
        tracks[i].accounting.wakeups += 1
    }

    /// A runnable vCPU left the run queue without running.
    public mutating func blocked(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try move(vcpu, "blocked", from: .runnable, to: .blocked, at: now)
    }

    /// A runnable vCPU got a CPU.
    public mutating func started(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        let i = try slot(vcpu)
        let waited = elapsed(i, until: now)
        try move(vcpu, "started", from: .runnable, to: .running, at: now)
        tracks[i].accounting.slices += 1
        latencies.append(waited)
    }

    /// A running vCPU gave up its CPU. Of the time it held the CPU, `exitHandling` was spent in
    /// the VMM handling its exits (T_io); the rest was in the guest (T_cpu). Returns how long it
    /// held the CPU.
    @discardableResult
    public mutating func stopped(
        _ vcpu: VCPUID, at now: Nanoseconds, exitHandling: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) -> Nanoseconds {
        let i = try slot(vcpu)
        guard tracks[i].state == .running else {
            throw .invalidTransition(vcpu, operation: "stopped", state: tracks[i].state)
        }
        let held = elapsed(i, until: now)
        let io = min(exitHandling, held)
        tracks[i].accounting.ioTime &+= io
        tracks[i].accounting.cpuTime &+= held - io
        if outcome == .preempted { tracks[i].accounting.preemptions += 1 }
        tracks[i].state = outcome == .preempted ? .runnable : .blocked
        tracks[i].since = now
        return held
    }

    /// Stops tracking a vCPU; returns its accounting up to `now` (`nil` for an unknown one).
    /// Its latency samples stay in ``latencies``.
    public mutating func forget(_ vcpu: VCPUID, at now: Nanoseconds) -> VCPUAccounting? {
        guard let i = index.removeValue(forKey: vcpu) else { return nil }
        close(i, at: now)
        let accounting = tracks[i].accounting
        // Move the last track into the hole and re-point its index.
        let last = tracks.count - 1
        if i != last {
            tracks[i] = tracks[last]
            index[tracks[i].id] = i
        }
        tracks.removeLast()
        order.removeAll { $0 == vcpu }
        return accounting
    }

    /// Clears the latency samples.
    public mutating func resetLatencies() { latencies.reset() }

    /// Closes the current interval of every vCPU at `now` (call before reading a report; a
    /// running vCPU's time so far counts as guest time).
    public mutating func settle(at now: Nanoseconds) {
        for i in tracks.indices { close(i, at: now) }
    }

    /// The accounting of one vCPU, up to its last change (or ``settle(at:)``).
    public func accounting(of vcpu: VCPUID) -> VCPUAccounting? {
        index[vcpu].map { tracks[$0].accounting }
    }

    /// The accounting of every vCPU of `vm`, added up.
    public func accounting(ofVM vm: VMID) -> VCPUAccounting {
        order.filter { $0.vm == vm }.reduce(VCPUAccounting()) { $0 + tracks[index[$1] ?? 0].accounting }
    }

    /// The VMs seen, in ascending order.
    public var vms: [VMID] { Array(Set(order.map(\.vm))).sorted() }

    // MARK: Internals

    private func slot(_ vcpu: VCPUID) throws(SchedulerError) -> Int {
        guard let i = index[vcpu] else { throw .unknownVCPU(vcpu) }
        return i
    }

    @discardableResult
    private mutating func move(
        _ vcpu: VCPUID, _ operation: String, from: VCPURunState, to: VCPURunState, at now: Nanoseconds
    ) throws(SchedulerError) -> Int {
        let i = try slot(vcpu)
        guard tracks[i].state == from else {
            throw .invalidTransition(vcpu, operation: operation, state: tracks[i].state)
        }
        close(i, at: now)
        tracks[i].state = to
        return i
    }

    /// Time since the vCPU's last change; 0 if `now` is earlier (clocks read on different
    /// threads just before taking a lock can arrive slightly out of order).
    private func elapsed(_ i: Int, until now: Nanoseconds) -> Nanoseconds {
        now > tracks[i].since ? now - tracks[i].since : 0
    }

    private mutating func close(_ i: Int, at now: Nanoseconds) {
        let elapsed = elapsed(i, until: now)
        switch tracks[i].state {
        case .blocked: tracks[i].accounting.blockedTime &+= elapsed
        case .runnable: tracks[i].accounting.waitTime &+= elapsed
        case .running: tracks[i].accounting.cpuTime &+= elapsed
        }
        tracks[i].since = max(tracks[i].since, now)
    }
}
