import DeviceModel
import HostSupport
import Synchronization
import TestSupport
import Testing

/// An eventfd is an interrupt signal that can be wired into the kernel (it offers itself as
/// its `eventFD`, and each trigger adds one to its counter); a user-space signal offers none.
@Suite(.usesKVM) struct InterruptSignalTests {
    final class Counter: InterruptSignal {
        let count = Atomic<Int>(0)
        func trigger() { count.add(1, ordering: .relaxed) }
    }

    @Test func eventFDOffersItselfAndCountsTriggers() throws {
        let event = try EventFD()
        let signal: any InterruptSignal = event
        #expect(signal.eventFD === event)
        signal.trigger()
        signal.trigger()
        #expect(try event.read() == 2)
    }

    @Test func userSpaceSignalHasNoEventFD() {
        let counter = Counter()
        let signal: any InterruptSignal = counter
        #expect(signal.eventFD == nil)
        signal.trigger()
        #expect(counter.count.load(ordering: .relaxed) == 1)
    }
}
