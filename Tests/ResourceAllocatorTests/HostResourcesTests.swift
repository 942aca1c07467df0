import Foundation
import HostSupport
import Testing

@testable import HostPlacement
@testable import ResourceAllocator

@Suite struct HostResourcesTests {
    private let gib: UInt64 = 1 << 30

    @Test func allocatableAppliesOvercommitAndReservation() throws {
        let host = try HostResources(
            capacity: [.vcpus: 32, .memory: 128 * gib, .storage: 2000 * gib, "gpus": 4],
            overcommit: [.vcpus: 16, .memory: 1.5],
            reserved: [.vcpus: 2, .memory: 8 * gib])
        #expect(host.allocatable[.vcpus] == 32 * 16 - 2)
        #expect(host.allocatable[.memory] == 192 * gib - 8 * gib)
        #expect(host.allocatable[.storage] == 2000 * gib)
        #expect(host.allocatable["gpus"] == 4)
    }

    @Test func admissionIsAtomicAndNamesTheShortResource() throws {
        var host = try HostResources(capacity: [.vcpus: 8, .memory: 16 * gib, "gpus": 1])
        let a = try host.admit([.vcpus: 4, .memory: 8 * gib, "gpus": 1])
        let before = host.available
        #expect(throws: AdmissionError.insufficient(resource: "gpus", requested: 1, available: 0)) {
            try host.admit([.vcpus: 1, .memory: gib, "gpus": 1])
        }
        #expect(throws: AdmissionError.insufficient(resource: .memory, requested: 9 * gib, available: 8 * gib)) {
            try host.admit([.vcpus: 1, .memory: 9 * gib])
        }
        #expect(throws: AdmissionError.insufficient(resource: "fpga", requested: 1, available: 0)) {
            try host.admit(["fpga": 1])
        }
        #expect(host.available == before)
        try host.release(a)
        #expect(host.available == host.allocatable)
        #expect(host.used.isZero)
        #expect(throws: AdmissionError.unknownAdmission(a)) { try host.release(a) }
    }

    /// Against a model: a request is admitted exactly when, for every resource, what the live
    /// admissions use plus the request fits in `allocatable`; a refusal names the first short
    /// resource with the model's figures; a release gives back exactly what was taken.
    @Test func randomAdmitReleaseFollowsTheModel() throws {
        var rng = SplitMix64(seed: 3)
        var host = try HostResources(capacity: [.vcpus: 64, .memory: 256 * gib], overcommit: [.vcpus: 4])
        let allocatable: [ResourceKind: UInt64] = [.vcpus: 256, .memory: 256 * gib]
        var live: [(Admission, ResourceVector)] = []
        var admitted = 0, refused = 0
        func modelUsed(_ kind: ResourceKind) -> UInt64 { live.reduce(0) { $0 + $1.1[kind] } }
        for _ in 0..<5000 {
            if rng.next() % 2 == 0 || live.isEmpty {
                let r: ResourceVector = [.vcpus: 1 + rng.next() % 16, .memory: 1 + rng.next() % (32 * gib)]
                // Resources in name order, as the host checks them: memory, then vcpus.
                let short = [ResourceKind.memory, .vcpus].first { modelUsed($0) + r[$0] > allocatable[$0]! }
                do {
                    let a = try host.admit(r)
                    #expect(short == nil, "admitted although \(short.map { "\($0)" } ?? "") is short")
                    live.append((a, r))
                    admitted += 1
                } catch {
                    let kind = try #require(short, "refused although everything fits: \(error)")
                    #expect(
                        error
                            == .insufficient(
                                resource: kind, requested: r[kind], available: allocatable[kind]! - modelUsed(kind)))
                    refused += 1
                }
            } else {
                try host.release(live.remove(at: Int(rng.next() % UInt64(live.count))).0)
            }
            for kind in [ResourceKind.vcpus, .memory] { #expect(host.used[kind] == modelUsed(kind)) }
        }
        // Both outcomes are exercised (the workload is seeded, so these counts never vary).
        #expect(admitted > 1000 && refused > 100, "admitted \(admitted), refused \(refused)")
        for (a, _) in live { try host.release(a) }
        #expect(host.used.isZero && host.admissionCount == 0)
    }

    @Test func invalidHostsAreRejected() {
        #expect(throws: HostConfigurationError.invalidOvercommit(.vcpus, 0)) {
            try HostResources(capacity: [.vcpus: 1], overcommit: [.vcpus: 0])
        }
        #expect(throws: HostConfigurationError.reservationExceedsCapacity(.memory)) {
            try HostResources(capacity: [.memory: 1], reserved: [.memory: 2])
        }
        #expect(throws: HostConfigurationError.overflow(.memory)) {
            try HostResources(capacity: [.memory: UInt64.max / 2], overcommit: [.memory: 4])
        }
    }
}

@Suite struct DominantResourceFairnessTests {
    @Test func paperExample() throws {
        // Ghodsi et al.: 9 CPUs, 18 GB; A's tasks <1 CPU, 4 GB>, B's <3 CPU, 1 GB>.
        let result = try DominantResourceFairness.allocate(
            capacity: [.vcpus: 9, .memory: 18],
            tenants: [
                .init(name: "A", demandPerTask: [.vcpus: 1, .memory: 4]),
                .init(name: "B", demandPerTask: [.vcpus: 3, .memory: 1]),
            ])
        #expect(result.map(\.tasks) == [3, 2])
        #expect(result[0].allocated == [.vcpus: 3, .memory: 12])
        #expect(result[0].dominantShare == 12.0 / 18 && result[1].dominantShare == 6.0 / 9)
    }

    @Test func weightsAndCaps() throws {
        let weighted = try DominantResourceFairness.allocate(
            capacity: [.vcpus: 12],
            tenants: [
                .init(name: "light", demandPerTask: [.vcpus: 1]),
                .init(name: "heavy", demandPerTask: [.vcpus: 1], weight: 2),
            ])
        #expect(weighted.map(\.tasks) == [4, 8])
        let capped = try DominantResourceFairness.allocate(
            capacity: [.vcpus: 12, .memory: 12],
            tenants: [
                .init(name: "a", demandPerTask: [.vcpus: 1], maxTasks: 2),
                .init(name: "b", demandPerTask: [.vcpus: 1, .memory: 1]),
            ])
        #expect(capped.map(\.tasks) == [2, 10])
    }

    @Test func errors() {
        #expect(throws: FairnessError.zeroDemand(tenant: "z")) {
            try DominantResourceFairness.allocate(
                capacity: [.vcpus: 1], tenants: [.init(name: "z", demandPerTask: [:])])
        }
        #expect(throws: FairnessError.invalidWeight(tenant: "w", weight: -1)) {
            try DominantResourceFairness.allocate(
                capacity: [.vcpus: 1], tenants: [.init(name: "w", demandPerTask: [.vcpus: 1], weight: -1)])
        }
        #expect(throws: FairnessError.taskLimitExceeded(100)) {
            try DominantResourceFairness.allocate(
                capacity: [.memory: 1 << 40], tenants: [.init(name: "m", demandPerTask: [.memory: 1])], taskLimit: 100)
        }
    }
}

@Suite struct HostResourcesCodableTests {
    @Test func roundTripAndValidation() throws {
        var host = try HostResources(
            capacity: [.vcpus: 8, .memory: 64], overcommit: [.vcpus: 2], reserved: [.memory: 4])
        let a = try host.admit([.vcpus: 10, .memory: 30])
        _ = try host.admit([.vcpus: 2])
        try host.release(a)
        let c = try host.admit([.memory: 1])
        var copy = try JSONDecoder().decode(HostResources.self, from: JSONEncoder().encode(host))
        #expect(copy == host)
        try copy.release(c)
        #expect(copy.used == [.vcpus: 2])
        #expect(try copy.admit([.memory: 1]) != c)

    }

    /// A saved host whose admissions are tampered with is refused with the exact reason. The
    /// fixtures are the encoder's own output, then corrupted (the resource vectors encode as
    /// arrays of kind and amount, not as objects).
    @Test func tamperedSavedStateIsRefusedWithTheReason() throws {
        var host = try HostResources(capacity: [.vcpus: 4, .memory: 64], overcommit: [.vcpus: 1])
        _ = try host.admit([.vcpus: 3])
        let saved = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(host)) as? [String: Any])
        let admissions = try #require(saved["admissions"] as? [[String: Any]])
        try #require(admissions.count == 1 && saved["nextSerial"] as? Int == 1)
        #expect(try decodingFailure(HostResources.self, saved) == nil, "the untouched state decodes")

        func failure(_ change: (inout [String: Any]) -> Void) throws -> (key: String, reason: String)? {
            var state = saved
            change(&state)
            return try decodingFailure(HostResources.self, state)
        }
        // The same request admitted twice: 6 vCPUs on a host of 4.
        let tooMuch = try failure { s in
            var second = admissions[0]
            second["serial"] = 1
            s["admissions"] = admissions + [second]
            s["nextSerial"] = 2
        }
        #expect(tooMuch?.key == "admissions")
        #expect(
            tooMuch?.reason
                == "admission 1 does not fit: \(AdmissionError.insufficient(resource: .vcpus, requested: 3, available: 1))"
        )
        let repeated = try failure { s in
            s["admissions"] = admissions + admissions
            s["capacity"] = try? JSONSerialization.jsonObject(
                with: JSONEncoder().encode([ResourceKind.vcpus: UInt64(8), .memory: 64] as ResourceVector))
        }
        #expect(repeated?.key == "admissions" && repeated?.reason == "admission 0 appears twice")
        let futureSerial = try failure { s in s["nextSerial"] = 0 }
        #expect(futureSerial?.key == "admissions" && futureSerial?.reason == "admission 0 is not below nextSerial 0")
        let badRatio = try failure { s in
            s["overcommit"] = try? JSONSerialization.jsonObject(
                with: JSONEncoder().encode([ResourceKind.vcpus: -1.0]))
        }
        #expect(badRatio?.key == "overcommit")
        #expect(badRatio?.reason == "\(HostConfigurationError.invalidOvercommit(.vcpus, -1))")
        let overReserved = try failure { s in
            s["reserved"] = try? JSONSerialization.jsonObject(
                with: JSONEncoder().encode([ResourceKind.memory: UInt64(65)] as ResourceVector))
        }
        #expect(overReserved?.key == "reserved")
        #expect(overReserved?.reason == "\(HostConfigurationError.reservationExceedsCapacity(.memory))")
    }
}
