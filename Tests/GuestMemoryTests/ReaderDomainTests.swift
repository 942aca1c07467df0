import HostSupport
import Synchronization
import Testing

@testable import GuestMemory

/// A ``ReaderDomain`` releases a retired object only after every read section and short access
/// that began before its retirement has ended — on this thread or another, nested or not — and
/// as soon as the last of them ends (its exit releases it); reads that begin after the
/// retirement do not hold it back.
///
/// These tests drive the domain directly: no closure or map sits between a section and the
/// object, so no reference the compiler keeps (in debug builds especially) can hide an early
/// release.
@Suite struct ReaderDomainTests {
    /// Records its own release.
    final class Probe: Sendable {
        final class Flag: Sendable { let released = Atomic(false) }
        let flag: Flag
        init(_ flag: Flag) { self.flag = flag }
        deinit { flag.released.store(true, ordering: .releasing) }
    }

    @Test(arguments: ReadSectionSetup.allCases)
    func aSectionOfThisThreadHoldsBackWhatIsRetiredDuringIt(_ setup: ReadSectionSetup) {
        let domain = setup.domain()
        let flag = Probe.Flag()
        let outer = domain.enter()
        let inner = domain.enter()
        domain.retire(Probe(flag))
        domain.exit(inner)
        let releasedAfterInner = flag.released.load(ordering: .acquiring)
        #expect(!releasedAfterInner, "released when a nested section ended")
        domain.exit(outer)
        let releasedAfterOuter = flag.released.load(ordering: .acquiring)
        #expect(releasedAfterOuter, "not released when the outermost section ended")
    }

    @Test(arguments: ReadSectionSetup.allCases)
    func aSectionOfAnotherThreadHoldsBackWhatIsRetiredDuringIt(_ setup: ReadSectionSetup) throws {
        final class Handshake: Sendable { let inside = Atomic(false), proceed = Atomic(false) }
        let domain = setup.domain()
        let flag = Probe.Flag()
        let handshake = Handshake()
        let reader = try HostThread.spawn {
            let ticket = domain.enter()
            handshake.inside.store(true, ordering: .releasing)
            _ = yielding { handshake.proceed.load(ordering: .acquiring) }
            domain.exit(ticket)
        }
        let entered = yielding { handshake.inside.load(ordering: .acquiring) }
        #expect(entered, "the reader never entered its section")
        domain.retire(Probe(flag))
        // A section that begins after the retirement, here, does not hold it back.
        domain.exit(domain.enter())
        let releasedEarly = flag.released.load(ordering: .acquiring)
        #expect(!releasedEarly || !entered, "released while another thread's earlier section is open")
        handshake.proceed.store(true, ordering: .releasing)
        reader.join()
        let released = flag.released.load(ordering: .acquiring)
        #expect(released, "not released when the other thread's section ended")
    }

    @Test func aShortAccessHoldsBackWhatIsRetiredDuringIt() throws {
        // Short accesses exist only with the process-wide barrier.
        let domain = ReadSectionSetup.processBarrier.domain()
        guard domain.asymmetric else { return }
        domain.exit(domain.enter())  // claims this thread's record
        let flag = Probe.Flag()
        let record = try #require(domain.beginAccess())
        domain.retire(Probe(flag))
        let releasedDuring = flag.released.load(ordering: .acquiring)
        #expect(!releasedDuring, "released during a short access that began before")
        let nothingPending = domain.endAccess(record)
        #expect(!nothingPending, "the access's end does not see the retired object waiting")
        domain.reclaim()
        let released = flag.released.load(ordering: .acquiring)
        #expect(released, "not released after the access ended")
    }

    @Test func anotherThreadsShortAccessHoldsBackWhatIsRetiredDuringIt() throws {
        final class Handshake: Sendable { let inside = Atomic(false), proceed = Atomic(false) }
        let domain = ReadSectionSetup.processBarrier.domain()
        guard domain.asymmetric else { return }
        let flag = Probe.Flag()
        let handshake = Handshake()
        let reader = try HostThread.spawn {
            domain.exit(domain.enter())
            guard let record = domain.beginAccess() else { return }
            handshake.inside.store(true, ordering: .releasing)
            _ = yielding { handshake.proceed.load(ordering: .acquiring) }
            if !domain.endAccess(record) { domain.reclaim() }
        }
        let entered = yielding { handshake.inside.load(ordering: .acquiring) }
        #expect(entered, "the reader never began its access")
        domain.retire(Probe(flag))
        let releasedEarly = flag.released.load(ordering: .acquiring)
        #expect(!releasedEarly || !entered, "released during another thread's earlier short access")
        handshake.proceed.store(true, ordering: .releasing)
        reader.join()
        let released = flag.released.load(ordering: .acquiring)
        #expect(released, "not released when the other thread's access ended")
    }

    @Test(arguments: ReadSectionSetup.allCases)
    func withoutSectionsARetiredObjectIsReleasedAtOnce(_ setup: ReadSectionSetup) {
        let domain = setup.domain()
        let flag = Probe.Flag()
        domain.exit(domain.enter())
        domain.retire(Probe(flag))
        let released = flag.released.load(ordering: .acquiring)
        #expect(released)
        let pending = domain.pending.load(ordering: .relaxed)
        #expect(pending == 0)
    }
}
