import Synchronization
import Testing

@testable import Scheduling
@testable import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` on a fresh thread and waits for it (so that changing the thread's affinity
/// touches no test-runner thread).
func runOnFreshThread(_ body: @escaping @Sendable () -> Void) {
    final class Job {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Job(body)).toOpaque()
    let created = pthread_create(
        &thread, nil,
        { raw in
            guard let raw else { return nil }
            Unmanaged<Job>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, context)
    if created == 0 {
        pthread_join(thread, nil)
    } else {
        Unmanaged<Job>.fromOpaque(context).release()
    }
}

@Suite("CPU affinity")
struct AffinityTests {
    final class Probe: Sendable {
        let result = Mutex<Result<(allowed: [Int], pinned: [Int]), CPUAffinity.AffinityError>?>(nil)
    }

    @Test("a thread pinned to its first allowed CPU reads that CPU back")
    func pinAndReadBack() throws {
        let probe = Probe()
        runOnFreshThread {
            let outcome: Result<(allowed: [Int], pinned: [Int]), CPUAffinity.AffinityError>
            do throws(CPUAffinity.AffinityError) {
                let allowed = try CPUAffinity.currentThread()
                try CPUAffinity(cpus: [allowed.cpus[0]]).applyToCurrentThread()
                outcome = .success((allowed.cpus, try CPUAffinity.currentThread().cpus))
            } catch {
                outcome = .failure(error)
            }
            probe.result.withLock { $0 = outcome }
        }
        let (allowed, pinned) = try #require(probe.result.withLock { $0 }).get()
        #expect(!allowed.isEmpty)
        #expect(pinned == [allowed[0]])
    }

    @Test("bad sets are typed errors")
    func invalid() {
        #expect(throws: CPUAffinity.AffinityError.invalidCPUs([])) { try CPUAffinity(cpus: []) }
        #expect(throws: CPUAffinity.AffinityError.invalidCPUs([1024])) { try CPUAffinity(cpus: [1024]) }
        #expect((try? CPUAffinity(cpus: [3, 1, 3]))?.cpus == [1, 3])
    }
}
