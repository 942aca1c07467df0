import HostSupport
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The adaptive window follows QEMU's rule on any sequence of block times: it opens at the
/// start value when work comes back within the maximum, doubles while a longer window would
/// have caught it, holds while it catches it, never passes the maximum, and closes (or is
/// divided) when work comes later than the maximum. Replayed on synthetic arrival patterns
/// against a simulated clock, so every window and every nanosecond of polling is exact.
@Suite struct AdaptivePollingTests {
    /// Replays arrivals `gaps` nanoseconds apart through a loop that polls for the current
    /// window and otherwise sleeps: a gap within the window is caught by polling (it polled for
    /// the gap), a longer one is slept through (it polled the whole window first). Returns the
    /// window before each arrival and the polling time.
    static func replay(_ gaps: [UInt64], _ parameters: AdaptivePolling.Parameters = .init()) -> (
        windows: [UInt64], polled: UInt64, caught: Int
    ) {
        var polling = AdaptivePolling(parameters)
        var windows: [UInt64] = [], polled: UInt64 = 0, caught = 0
        for gap in gaps {
            windows.append(polling.window)
            if gap <= polling.window {
                polled += gap
                caught += 1
            } else {
                polled += polling.window
            }
            polling.record(blockedFor: gap)
        }
        return (windows, polled, caught)
    }

    @Test func aBurstOpensTheWindowAndIdlenessClosesIt() {
        // Requests 10 µs apart: 0 → 4 → 8 → 16 µs, which catches the next three; then 1 ms of
        // idleness, which a full window polls for in vain and which closes it.
        let gaps: [UInt64] = [10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 1_000_000, 10_000]
        let run = Self.replay(gaps)
        #expect(run.windows == [0, 4_000, 8_000, 16_000, 16_000, 16_000, 16_000, 0])
        #expect(run.caught == 3)
        #expect(run.polled == 4_000 + 8_000 + 3 * 10_000 + 16_000)
    }

    @Test func theWindowNeverPassesTheMaximum() {
        // Arrivals 30 µs apart against a 32 768 ns maximum: 4, 8, 16 µs miss, 32 768 ns (capped,
        // not 32 000) catches every later one.
        let run = Self.replay([UInt64](repeating: 30_000, count: 8))
        #expect(run.windows == [0, 4_000, 8_000, 16_000, 32_000, 32_000, 32_000, 32_000])
        // 16 000 × 2 = 32 000 ≤ 32 768: the cap does not bite at the default start.
        let capped = Self.replay(
            [UInt64](repeating: 30_000, count: 6), .init(maximumNanoseconds: 20_000, startNanoseconds: 3_000))
        // 30 µs is above a 20 µs maximum: the window never opens.
        #expect(capped.windows == [0, 0, 0, 0, 0, 0] && capped.polled == 0)
        let atMaximum = Self.replay(
            [UInt64](repeating: 19_000, count: 5), .init(maximumNanoseconds: 20_000, startNanoseconds: 3_000))
        #expect(atMaximum.windows == [0, 3_000, 6_000, 12_000, 20_000])
    }

    @Test func aShrinkDividesInsteadOfClosing() {
        var polling = AdaptivePolling(.init(shrink: 4))
        for _ in 0..<4 { polling.record(blockedFor: 30_000) }  // 4 → 8 → 16 → 32 µs
        #expect(polling.window == 32_000 && polling.grown == 4)
        polling.record(blockedFor: 1_000_000)
        #expect(polling.window == 8_000 && polling.shrunk == 1)
        polling.record(blockedFor: 1_000_000)
        #expect(polling.window == 2_000)
        polling.record(blockedFor: 5_000)  // caught by a longer window: grows again
        #expect(polling.window == 4_000)
    }

    @Test func aGrowFactorOfZeroMeansTwoAndLargeFactorsCap() {
        var polling = AdaptivePolling(.init(grow: 0))
        polling.record(blockedFor: 10_000)
        polling.record(blockedFor: 10_000)
        #expect(polling.window == 8_000)
        var huge = AdaptivePolling(.init(maximumNanoseconds: .max, grow: .max))
        huge.record(blockedFor: 10_000)
        huge.record(blockedFor: 10_000)
        #expect(huge.window == .max, "an overflowing product is the maximum")
    }
}

/// A source with a poller is busy-polled while the loop's window is open: work made available
/// with its notifications off is still served, the notifications are off exactly while the loop
/// polls and back on before it sleeps (and before `deregister` returns), polling time and turns
/// are counted, and a loop that does not poll never calls a poller.
@Suite(.usesKVM) struct EventLoopPollingTests {
    /// A queue like a virtqueue: the producer adds work and signals the doorbell only while
    /// notifications are on; the poller serves whatever is there.
    final class PolledQueue: Sendable {
        let doorbell: EventFD
        let available = Atomic<Int>(0)
        let served = Atomic<Int>(0)
        let notifications = Atomic<Bool>(true)
        let doorbellsRung = Atomic<Int>(0)
        let polls = Atomic<Int>(0)
        /// Handler calls for work a poll found.
        let polledCalls = Atomic<Int>(0)
        let switches = Mutex<[Bool]>([])

        init() throws { doorbell = try EventFD() }

        var notificationsOn: Bool { notifications.load(ordering: .sequentiallyConsistent) }

        func produce() throws {
            available.add(1, ordering: .sequentiallyConsistent)
            if notifications.load(ordering: .sequentiallyConsistent) {
                doorbellsRung.add(1, ordering: .relaxed)
                try doorbell.signal()
            }
        }

        /// Serves everything available; whether there was anything.
        func serve() -> Bool {
            let pending = available.load(ordering: .sequentiallyConsistent) - served.load(ordering: .relaxed)
            if pending > 0 { served.add(pending, ordering: .sequentiallyConsistent) }
            return pending > 0
        }

        var poller: EventLoop.Poller {
            EventLoop.Poller(
                poll: { [self] in
                    polls.add(1, ordering: .relaxed)
                    return available.load(ordering: .sequentiallyConsistent) != served.load(ordering: .relaxed)
                },
                setNotifications: { [self] on in
                    notifications.store(on, ordering: .sequentiallyConsistent)
                    switches.withLock { $0.append(on) }
                })
        }

        var handler: EventLoop.Handler {
            { [self] events in
                polledCalls.add(events.contains(.polled) ? 1 : 0, ordering: .relaxed)
                if !events.contains(.polled) { _ = try? doorbell.read() }
                _ = serve()
            }
        }
    }

    @Test func workMadeAvailableWhilePollingIsServedWithoutADoorbell() throws {
        // A window far longer than the test: the loop polls from its first turn on.
        let loop = try EventLoop(polling: .fixed(nanoseconds: 60_000_000_000))
        let queue = try PolledQueue()
        let token = try loop.register(
            queue.doorbell.fileDescriptor, for: .readable, poller: queue.poller, handler: queue.handler)
        try loop.start()
        defer { loop.stop() }
        try waitUntil("polling to start") { !queue.notificationsOn }
        for _ in 0..<1000 { try queue.produce() }
        try waitUntil("everything served") { queue.served.load(ordering: .relaxed) == 1000 }
        #expect(queue.doorbellsRung.load(ordering: .relaxed) == 0, "notifications were off throughout")
        #expect(queue.polledCalls.load(ordering: .relaxed) >= 1, "the handler served what polling found")
        let statistics = loop.statistics
        #expect(statistics.pollHits >= 1 && statistics.pollingNanoseconds > 0)
        #expect(statistics.wakeups == 0, "never slept")
        #expect(statistics.pollWindow == 60_000_000_000)
        // Removing it gives its notifications back, before deregister returns.
        try loop.deregister(token, descriptor: queue.doorbell.fileDescriptor)
        #expect(queue.notificationsOn)
        #expect(queue.switches.withLock { $0 } == [false, true])
    }

    @Test func notificationsComeBackBeforeTheLoopSleeps() throws {
        // 200 µs windows: each runs out with nothing to do, and the loop sleeps.
        let loop = try EventLoop(polling: .fixed(nanoseconds: 200_000))
        let queue = try PolledQueue()
        try loop.register(queue.doorbell.fileDescriptor, for: .readable, poller: queue.poller, handler: queue.handler)
        try loop.start()
        defer { loop.stop() }
        try waitUntil("a window to run out") { loop.statistics.pollMisses >= 1 }
        // Asleep (or about to be) with notifications on: a doorbell wakes it.
        try waitUntil("notifications back on") { queue.notificationsOn }
        for round in 1...20 {
            try queue.produce()
            try waitUntil("round \(round) served") { queue.served.load(ordering: .relaxed) == round }
        }
        let switches = queue.switches.withLock { $0 }
        // Strictly alternating off/on: never switched twice the same way.
        #expect(zip(switches, switches.dropFirst()).allSatisfy { $0 != $1 })
        #expect(switches.first == false)
        #expect(loop.statistics.pollMisses >= 1 && loop.statistics.pollingNanoseconds >= 200_000)
    }

    @Test func aLoopThatDoesNotPollNeverCallsAPoller() throws {
        let loop = try EventLoop()  // .off
        #expect(loop.polling == .off)
        let queue = try PolledQueue()
        try loop.register(queue.doorbell.fileDescriptor, for: .readable, poller: queue.poller, handler: queue.handler)
        try loop.start()
        defer { loop.stop() }
        for round in 1...20 {
            try queue.produce()
            try waitUntil("round \(round) served") { queue.served.load(ordering: .relaxed) == round }
        }
        #expect(queue.polls.load(ordering: .relaxed) == 0 && queue.switches.withLock { $0 }.isEmpty)
        #expect(queue.doorbellsRung.load(ordering: .relaxed) == 20)
        let statistics = loop.statistics
        #expect(statistics.pollingNanoseconds == 0 && statistics.pollHits == 0 && statistics.pollMisses == 0)
        #expect(statistics.dispatched >= 1 && statistics.wakeups >= 1)
        // Switched on at run time: from the next turn (the doorbell wakes it into one).
        loop.setPolling(.fixed(nanoseconds: 60_000_000_000))
        try queue.produce()
        try waitUntil("polling to start") { !queue.notificationsOn }
        try queue.produce()
        try waitUntil("served by polling") { queue.served.load(ordering: .relaxed) == 22 }
        #expect(queue.polls.load(ordering: .relaxed) > 0)
    }

    @Test func stopWithWorkPendingReturnsAndNothingRunsAfter() throws {
        let loop = try EventLoop(polling: .adaptive)
        let calls = Atomic<Int>(0)
        let events = try (0..<500).map { _ in try EventFD() }
        for event in events {
            // Slow handlers that leave their source readable: always more work pending.
            try loop.register(event.fileDescriptor, for: .readable) { _ in
                calls.add(1, ordering: .relaxed)
                usleep(100)
            }
            try event.signal()
        }
        try loop.start()
        try waitUntil("handlers running") { calls.load(ordering: .relaxed) > 10 }
        loop.stop()
        let after = calls.load(ordering: .relaxed)
        usleep(20_000)
        #expect(calls.load(ordering: .relaxed) == after, "no handler runs once stop returned")
    }
}

/// A timer is a source like any other: it fires on the loop no earlier than armed (the kernel's
/// guarantee for `CLOCK_MONOTONIC`), a periodic one keeps firing and counts the expirations, a
/// disarmed one stops, and an unexpired non-blocking timer reads as `nil`.
@Suite struct TimerFDTests {
    @Test func aOneShotTimerFiresOnTheLoopNoEarlierThanArmed() throws {
        let loop = try EventLoop()
        let timer = try TimerFD()
        #expect(try timer.read() == nil)
        let fired = Mutex<(at: UInt64, expirations: UInt64, thread: Int32?)?>(nil)
        try loop.register(timer.fileDescriptor, for: .readable) { _ in
            let expirations = (try? timer.read()) ?? 0
            fired.withLock { $0 = (monotonicNanoseconds(), expirations, HostThread.currentKernelID) }
        }
        try loop.start()
        defer { loop.stop() }
        let armed = monotonicNanoseconds()
        try timer.arm(after: 20_000_000)
        try waitUntil("the timer") { fired.withLock { $0 } != nil }
        let firing = try #require(fired.withLock { $0 })
        #expect(firing.at - armed >= 20_000_000 && firing.expirations == 1 && firing.thread == loop.threadID)
        usleep(40_000)
        #expect(fired.withLock { $0?.at } == firing.at, "once")
    }

    @Test func aPeriodicTimerKeepsFiringUntilDisarmed() throws {
        let loop = try EventLoop()
        let timer = try TimerFD()
        let expirations = Atomic<UInt64>(0)
        try loop.register(timer.fileDescriptor, for: .readable) { _ in
            expirations.add((try? timer.read()) ?? 0, ordering: .relaxed)
        }
        try loop.start()
        defer { loop.stop() }
        try timer.arm(after: 1_000_000, interval: 2_000_000)
        try waitUntil("five expirations") { expirations.load(ordering: .relaxed) >= 5 }
        try timer.disarm()
        // A handler call in progress may still add what it read before the disarm.
        usleep(10_000)
        let settled = expirations.load(ordering: .relaxed)
        usleep(30_000)  // 15 periods
        #expect(expirations.load(ordering: .relaxed) == settled)
        #expect(try timer.read() == nil)
    }
}
