import Foundation
import HostSupport
import Synchronization
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One loop thread serves many descriptors: a ready source's handler runs on the loop thread
/// with the events that arrived; sources are added and removed while it runs, and once
/// `deregister` returns the handler is not running and never runs again (also when it was
/// running at the time, and from inside a handler); `stop` joins the thread, and dropping the
/// loop stops it; a descriptor epoll cannot watch is a typed error; a source's events can be
/// changed, and paused, while it is registered.
@Suite(.usesKVM) struct EventLoopTests {
    /// Counts calls of a handler that drains its eventfd.
    final class Drain: Sendable {
        let event: EventFD
        let calls = Atomic<Int>(0)
        let total = Atomic<UInt64>(0)
        let thread = Mutex<Int32?>(nil)
        init() throws { event = try EventFD() }
        var handler: EventLoop.Handler {
            { [self] events in
                #expect(events.contains(.readable))
                thread.withLock { $0 = HostThread.currentKernelID }
                total.add((try? event.read()) ?? 0, ordering: .relaxed)
                calls.add(1, ordering: .relaxed)
            }
        }
    }

    @Test func twoThousandSourcesAreServedByOneThread() throws {
        let loop = try EventLoop(name: "test")
        let drains = try (0..<2000).map { _ in try Drain() }
        for drain in drains { try loop.register(drain.event.fileDescriptor, for: .readable, handler: drain.handler) }
        try loop.start()
        defer { loop.stop() }
        for (i, drain) in drains.enumerated() { try drain.event.signal(UInt64(i + 1)) }
        try waitUntil("every source served") {
            drains.enumerated().allSatisfy { i, drain in drain.total.load(ordering: .relaxed) == UInt64(i + 1) }
        }
        let threads = Set(drains.compactMap { $0.thread.withLock { $0 } })
        #expect(threads.count == 1 && threads.first == loop.threadID, "all on the loop thread")
        #expect(loop.dispatched >= 2000)
    }

    @Test func aDeregisteredSourceNeverRunsAgainAndOneAddedLaterDoes() throws {
        let loop = try EventLoop()
        try loop.start()
        defer { loop.stop() }
        let removed = try Drain(), barrier = try Drain()
        let token = try loop.register(removed.event.fileDescriptor, for: .readable, handler: removed.handler)
        try removed.event.signal()
        try waitUntil("the first call") { removed.calls.load(ordering: .relaxed) == 1 }
        try loop.deregister(token, descriptor: removed.event.fileDescriptor)
        try loop.deregister(token, descriptor: removed.event.fileDescriptor)  // twice: harmless
        // Registered while the loop runs; signalled after the removed one, and waited for.
        try loop.register(barrier.event.fileDescriptor, for: .readable, handler: barrier.handler)
        try removed.event.signal()
        try barrier.event.signal()
        try waitUntil("the barrier's call") { barrier.calls.load(ordering: .relaxed) == 1 }
        #expect(removed.calls.load(ordering: .relaxed) == 1, "a removed source's handler ran")
        #expect(try removed.event.read() == 1, "its signal stayed unread")
    }

    /// A paused source (no events) is out of epoll: its pending signal wakes nothing, not even as
    /// a hang-up would; resumed, the signal is served; a paused source deregisters cleanly.
    @Test func aPausedSourceIsNotServedUntilResumed() throws {
        let loop = try EventLoop()
        try loop.start()
        defer { loop.stop() }
        let paused = try Drain(), barrier = try Drain()
        let token = try loop.register(paused.event.fileDescriptor, for: .readable, handler: paused.handler)
        try loop.register(barrier.event.fileDescriptor, for: .readable, handler: barrier.handler)
        try loop.setEvents([], for: token, descriptor: paused.event.fileDescriptor)
        try loop.setEvents([], for: token, descriptor: paused.event.fileDescriptor)  // twice: harmless
        try paused.event.signal()
        try barrier.event.signal()  // served after anything epoll had for the paused one
        try waitUntil("the barrier's call") { barrier.calls.load(ordering: .relaxed) == 1 }
        #expect(paused.calls.load(ordering: .relaxed) == 0, "a paused source was served")
        try loop.setEvents(.readable, for: token, descriptor: paused.event.fileDescriptor)
        try waitUntil("the resumed source's call") { paused.calls.load(ordering: .relaxed) == 1 }
        #expect(paused.total.load(ordering: .relaxed) == 1)
        try loop.setEvents([], for: token, descriptor: paused.event.fileDescriptor)
        try loop.deregister(token, descriptor: paused.event.fileDescriptor)
        // Changing a deregistered source does nothing (and does not put it back in epoll).
        try loop.setEvents(.readable, for: token, descriptor: paused.event.fileDescriptor)
        try paused.event.signal()
        try barrier.event.signal()
        try waitUntil("the barrier's second call") { barrier.calls.load(ordering: .relaxed) == 2 }
        #expect(paused.calls.load(ordering: .relaxed) == 1)
    }

    @Test func deregisterWaitsForTheHandlerInProgress() throws {
        let loop = try EventLoop()
        try loop.start()
        defer { loop.stop() }
        let event = try EventFD()
        let gate = ConditionLock((entered: false, released: false, returned: false))
        let token = try loop.register(event.fileDescriptor, for: .readable) { _ in
            _ = try? event.read()
            gate.withLock { $0.entered = true }
            gate.wait(until: { $0.released }, then: { $0.returned = true })
        }
        try event.signal()
        try waitUntil("the handler to be running") { gate.withLock { $0.entered } }
        let deregistered = Atomic<Bool>(false)
        let other = try HostThread.spawn {
            try? loop.deregister(token, descriptor: event.fileDescriptor)
            // The handler must have returned before deregister did.
            #expect(gate.withLock { $0.returned })
            deregistered.store(true, ordering: .releasing)
        }
        usleep(20_000)  // room for a deregister that would not wait (the check is above, not here)
        let early = deregistered.load(ordering: .acquiring)
        #expect(!early, "deregister returned while its handler ran")
        gate.withLock { $0.released = true }
        other.join()
        let returned = deregistered.load(ordering: .acquiring)
        #expect(returned)
    }

    @Test func aHandlerMayDeregisterItselfAndOthers() throws {
        let loop = try EventLoop()
        try loop.start()
        defer { loop.stop() }
        let first = try EventFD(), second = try EventFD()
        let secondCalls = Atomic<Int>(0)
        let tokens = Mutex<[EventLoop.Token]>([])
        let done = Atomic<Bool>(false)
        let secondToken = try loop.register(second.fileDescriptor, for: .readable) { _ in
            _ = try? second.read()
            secondCalls.add(1, ordering: .relaxed)
        }
        let firstToken = try loop.register(first.fileDescriptor, for: .readable) { _ in
            _ = try? first.read()
            // On the loop thread: neither call waits for a handler (this one is running).
            let all = tokens.withLock { $0 }
            try? loop.deregister(all[0], descriptor: first.fileDescriptor)
            try? loop.deregister(all[1], descriptor: second.fileDescriptor)
            done.store(true, ordering: .releasing)
        }
        tokens.withLock { $0 = [firstToken, secondToken] }
        try first.signal()
        try waitUntil("the first handler to deregister both") { done.load(ordering: .acquiring) }
        try second.signal()
        try first.signal()
        let barrier = try Drain()
        try loop.register(barrier.event.fileDescriptor, for: .readable, handler: barrier.handler)
        try barrier.event.signal()
        try waitUntil("the barrier's call") { barrier.calls.load(ordering: .relaxed) == 1 }
        #expect(secondCalls.load(ordering: .relaxed) == 0)
    }

    @Test func stopJoinsTheThreadAndDroppingTheLoopStopsIt() throws {
        func threadExists(_ tid: Int32) -> Bool { access("/proc/self/task/\(tid)", F_OK) == 0 }
        let loop = try EventLoop()
        try loop.start()
        try waitUntil("the loop thread") { loop.threadID != nil }
        let tid = try #require(loop.threadID)
        #expect(threadExists(tid))
        loop.stop()
        loop.stop()
        #expect(!threadExists(tid))
        #expect(throws: SystemCallError.self) { try loop.start() }

        var dropped: Int32?
        do {
            let unowned = try EventLoop()
            try unowned.start()
            try waitUntil("the loop thread") { unowned.threadID != nil }
            dropped = unowned.threadID
        }
        let droppedTID = try #require(dropped)
        try waitUntil("the dropped loop's thread to end") { !threadExists(droppedTID) }
    }

    @Test func aDescriptorEpollCannotWatchIsATypedError() throws {
        let loop = try EventLoop()
        let dir = try TemporaryDirectory()
        let path = dir.file("regular")
        try Data([1]).write(to: URL(fileURLWithPath: path))
        let file = try FileDescriptor.open(path, .readOnly)
        defer { try? file.close() }
        #expect(throws: SystemCallError(operation: "epoll_ctl", errno: .notPermitted)) {
            try loop.register(file, for: .readable) { _ in }
        }
        let event = try EventFD()
        try loop.register(event.fileDescriptor, for: .readable) { _ in }
        #expect(throws: SystemCallError(operation: "epoll_ctl", errno: .fileExists)) {
            try loop.register(event.fileDescriptor, for: .readable) { _ in }
        }
    }
}
