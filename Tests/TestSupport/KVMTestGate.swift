// Coordination between the test targets that use /dev/kvm or eventfds (KVMTests, VCPUTests,
// DevicesTests, …), which Swift Testing runs in parallel in one process: tests that count the
// process's KVM and eventfd descriptors or its threads take the gate exclusively; every other
// test that opens such descriptors takes it shared.
import Testing

/// An asynchronous readers–writer gate (writer-preferring). Waiting suspends a task; it never
/// blocks a thread of the cooperative pool.
actor KVMTestGate {
    static let shared = KVMTestGate()

    /// Set while the current task holds the gate, so nested scopes (a suite's trait and a
    /// test's own) take it only once.
    @TaskLocal static var held = false

    private var readers = 0
    private var writer = false
    private var waitingWriters: [CheckedContinuation<Void, Never>] = []
    private var waitingReaders: [CheckedContinuation<Void, Never>] = []

    func acquire(exclusive: Bool) async {
        if exclusive {
            if writer || readers > 0 || !waitingWriters.isEmpty {
                await withCheckedContinuation { waitingWriters.append($0) }
            } else {
                writer = true
            }
        } else {
            if writer || !waitingWriters.isEmpty {
                await withCheckedContinuation { waitingReaders.append($0) }
            } else {
                readers += 1
            }
        }
    }

    func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        guard !writer, readers == 0 else { return }
        if !waitingWriters.isEmpty {
            writer = true
            waitingWriters.removeFirst().resume()
        } else {
            readers += waitingReaders.count
            for waiter in waitingReaders { waiter.resume() }
            waitingReaders.removeAll()
        }
    }
}

/// A trait for suites and tests that use KVM or eventfds. `.usesKVM` runs the test alongside other KVM
/// tests; `.usesKVM(exclusively: true)` runs it while no other KVM test runs (for descriptor
/// and thread leak checks). On a suite it applies to every test in it.
public struct KVMUsageTrait: TestTrait, SuiteTrait, TestScoping {
    public let exclusive: Bool

    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // Suites get the scope through their tests (recursive); only wrap test functions, and
        // only once: the outermost scope takes the gate in the strongest mode any of the test's
        // KVM traits asks for.
        guard !test.isSuite, !KVMTestGate.held else {
            try await function()
            return
        }
        let exclusive = test.traits.contains { ($0 as? KVMUsageTrait)?.exclusive == true } || self.exclusive
        await KVMTestGate.shared.acquire(exclusive: exclusive)
        do {
            try await KVMTestGate.$held.withValue(true) { try await function() }
        } catch {
            await KVMTestGate.shared.release(exclusive: exclusive)
            throw error
        }
        await KVMTestGate.shared.release(exclusive: exclusive)
    }
}

extension Trait where Self == KVMUsageTrait {
    /// The test uses KVM and may run alongside other KVM tests.
    public static var usesKVM: Self { KVMUsageTrait(exclusive: false) }

    /// The test uses KVM; with `exclusively`, no other KVM test runs at the same time.
    public static func usesKVM(exclusively: Bool) -> Self { KVMUsageTrait(exclusive: exclusively) }
}
