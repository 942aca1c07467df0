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

    @Test func randomAdmitReleaseReturnsExactly() throws {
        var rng = SplitMix64(seed: 3)
        var host = try HostResources(capacity: [.vcpus: 64, .memory: 256 * gib], overcommit: [.vcpus: 4])
        var live: [Admission] = []
        for _ in 0..<5000 {
            if rng.next() % 2 == 0 || live.isEmpty {
                let r: ResourceVector = [.vcpus: 1 + rng.next() % 16, .memory: 1 + rng.next() % (32 * gib)]
                if let a = try? host.admit(r) { live.append(a) }
            } else {
                try host.release(live.remove(at: Int(rng.next() % UInt64(live.count))))
            }
            for kind in host.allocatable.kinds { #expect(host.used[kind] <= host.allocatable[kind]) }
        }
        for a in live { try host.release(a) }
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

        let tooMuch =
            #"{"capacity":{"vcpus":4},"overcommit":{},"reserved":{},"nextSerial":2,"admissions":[{"serial":0,"request":{"vcpus":3}},{"serial":1,"request":{"vcpus":3}}]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(HostResources.self, from: Data(tooMuch.utf8)) }
        let repeated =
            #"{"capacity":{"vcpus":4},"overcommit":{},"reserved":{},"nextSerial":2,"admissions":[{"serial":0,"request":{"vcpus":1}},{"serial":0,"request":{"vcpus":1}}]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(HostResources.self, from: Data(repeated.utf8)) }
        let badRatio =
            #"{"capacity":{"vcpus":4},"overcommit":{"vcpus":-1},"reserved":{},"nextSerial":0,"admissions":[]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(HostResources.self, from: Data(badRatio.utf8)) }
    }
}
