import Foundation
import HostSupport
import Synchronization
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An epoll set reports exactly its ready members with their tokens, follows additions,
/// changes and removals, refuses what epoll refuses with a typed error, and — being a descriptor
/// itself — wakes an event loop it is nested in when a member becomes ready.
@Suite(.usesKVM) struct EpollSetTests {
    func ready(_ set: EpollSet, timeout: Int32 = 0) throws -> [UInt64: EventLoop.Events] {
        var found: [UInt64: EventLoop.Events] = [:]
        try set.wait(timeoutMilliseconds: timeout) { token, events in found[token] = events }
        return found
    }

    @Test func readyMembersAreReportedWithTheirTokens() throws {
        let set = try EpollSet()
        let a = try EventFD(), b = try EventFD(), c = try EventFD()
        try set.add(a.fileDescriptor, events: .readable, token: 10)
        try set.add(b.fileDescriptor, events: .readable, token: 20)
        try set.add(c.fileDescriptor, events: .writable, token: 30)  // an eventfd is always writable
        #expect(try ready(set).mapValues { $0.contains(.writable) } == [30: true])
        try a.signal()
        try b.signal()
        let found = try ready(set)
        #expect(Set(found.keys) == [10, 20, 30])
        #expect(found[10]?.contains(.readable) == true && found[20]?.contains(.readable) == true)
        // Level-triggered: still ready until read.
        _ = try a.read()
        #expect(Set(try ready(set).keys) == [20, 30])
        try set.modify(c.fileDescriptor, events: .readable, token: 31)
        try set.remove(b.fileDescriptor)
        #expect(try ready(set).isEmpty)
        try c.signal()
        #expect(Set(try ready(set).keys) == [31])
    }

    @Test func whatEpollRefusesIsATypedError() throws {
        let set = try EpollSet()
        let event = try EventFD()
        try set.add(event.fileDescriptor, events: .readable, token: 1)
        #expect(throws: SystemCallError(operation: "epoll_ctl", errno: .fileExists)) {
            try set.add(event.fileDescriptor, events: .readable, token: 2)
        }
        let other = try EventFD()
        #expect(throws: SystemCallError(operation: "epoll_ctl", errno: .noSuchFileOrDirectory)) {
            try set.remove(other.fileDescriptor)
        }
        let directory = try TemporaryDirectory()
        let file = try FileDescriptor.open(
            directory.file("regular"), .readWrite, options: [.create], permissions: [.ownerReadWrite])
        defer { try? file.close() }
        #expect(throws: SystemCallError(operation: "epoll_ctl", errno: .notPermitted)) {
            try set.add(file, events: .readable, token: 3)
        }
    }

    @Test func aNestedSetWakesTheLoopItIsIn() throws {
        let inner = try EpollSet()
        let members = try (0..<100).map { _ in try EventFD() }
        for (i, member) in members.enumerated() {
            try inner.add(member.fileDescriptor, events: .readable, token: UInt64(i))
        }
        let served = Mutex<[UInt64]>([])
        let loop = try EventLoop()
        try loop.register(inner.descriptor, for: .readable) { _ in
            // The loop only learns that some member is ready; the set says which.
            _ = try? inner.wait(timeoutMilliseconds: 0) { token, _ in
                _ = try? members[Int(token)].read()
                served.withLock { $0.append(token) }
            }
        }
        try loop.start()
        defer { loop.stop() }
        try members[42].signal()
        try waitUntil("member 42 served") { served.withLock { $0 } == [42] }
        try members[7].signal()
        try members[99].signal()
        try waitUntil("members 7 and 99 served") { served.withLock { $0.count } == 3 }
        #expect(Set(served.withLock { $0 }) == [42, 7, 99])
    }
}
