/// Why a ``HostResources`` could not be created.
public enum HostConfigurationError: Error, Hashable, Sendable {
    /// An overcommit ratio that is not a finite number greater than zero.
    case invalidOvercommit(ResourceKind, Double)
    /// `capacity × overcommit` does not fit in 64 bits.
    case overflow(ResourceKind)
    /// The host reservation is larger than the (overcommitted) capacity.
    case reservationExceedsCapacity(ResourceKind)
}

/// Why an admission or a release failed.
public enum AdmissionError: Error, Hashable, Sendable {
    /// The request needs more of `resource` than the host has left.
    case insufficient(resource: ResourceKind, requested: UInt64, available: UInt64)
    /// A release of an admission this host does not hold (never made, or released already).
    case unknownAdmission(Admission)
}

/// A handle for one admitted request; release it to give the resources back.
public struct Admission: Hashable, Sendable, Codable {
    /// The host-local serial number of the admission.
    public let serial: UInt64
}

/// One host's resources for admission control: capacity per resource, overcommit ratios,
/// a reservation held back for the host itself, and what admitted VMs use.
///
/// The amount admissions may use of a resource is
/// `floor(capacity × overcommit) − reserved` (overcommit defaults to 1; Nova's classic
/// defaults are 16 for vCPUs and 1.5 for memory). Admitting either reserves the whole
/// request or changes nothing and names the first short resource (by name order).
/// Releasing an ``Admission`` returns exactly what it took: amounts are integers.
public struct HostResources: Hashable, Sendable {
    /// Physical capacity per resource.
    public let capacity: ResourceVector
    /// Overcommit ratio per resource (absent means 1).
    public let overcommit: [ResourceKind: Double]
    /// Amount held back for the host itself.
    public let reserved: ResourceVector
    /// What admissions may use in total: `floor(capacity × overcommit) − reserved`.
    public let allocatable: ResourceVector
    /// What current admissions use.
    public private(set) var used = ResourceVector()
    private var admissions: [Admission: ResourceVector] = [:]
    private var nextSerial: UInt64 = 0

    /// Creates a host; every resource a request may name must appear in `capacity`.
    public init(
        capacity: ResourceVector, overcommit: [ResourceKind: Double] = [:], reserved: ResourceVector = [:]
    ) throws(HostConfigurationError) {
        var allocatable = ResourceVector()
        for (kind, ratio) in overcommit where !(ratio.isFinite && ratio > 0) {
            throw .invalidOvercommit(kind, ratio)
        }
        for kind in Set(capacity.kinds).union(reserved.kinds).sorted() {
            var total = capacity[kind]
            if let ratio = overcommit[kind], ratio != 1 {
                let scaled = (Double(total) * ratio).rounded(.down)
                guard scaled < 18_446_744_073_709_551_616.0 else { throw .overflow(kind) }
                total = UInt64(scaled)
            }
            guard reserved[kind] <= total else { throw .reservationExceedsCapacity(kind) }
            allocatable[kind] = total - reserved[kind]
        }
        self.capacity = capacity
        self.overcommit = overcommit
        self.reserved = reserved
        self.allocatable = allocatable
    }

    /// What is left for new admissions of `kind`.
    public func available(_ kind: ResourceKind) -> UInt64 { allocatable[kind] - used[kind] }

    /// What is left for new admissions, per resource.
    public var available: ResourceVector {
        var out = ResourceVector()
        for kind in allocatable.kinds { out[kind] = available(kind) }
        return out
    }

    /// The first resource (by name) that `request` needs more of than is available.
    public func shortfall(for request: ResourceVector) -> AdmissionError? {
        for kind in request.kinds where request[kind] > available(kind) {
            return .insufficient(resource: kind, requested: request[kind], available: available(kind))
        }
        return nil
    }

    /// Whether `request` fits in what is available.
    public func fits(_ request: ResourceVector) -> Bool { shortfall(for: request) == nil }

    /// Reserves all of `request` or nothing.
    public mutating func admit(_ request: ResourceVector) throws(AdmissionError) -> Admission {
        if let error = shortfall(for: request) { throw error }
        for (kind, amount) in request.amounts { used[kind] += amount }
        let admission = Admission(serial: nextSerial)
        nextSerial += 1
        admissions[admission] = request
        return admission
    }

    /// Returns exactly what `admission` reserved.
    public mutating func release(_ admission: Admission) throws(AdmissionError) {
        guard let request = admissions.removeValue(forKey: admission) else { throw .unknownAdmission(admission) }
        for (kind, amount) in request.amounts { used[kind] -= amount }
    }

    /// The request an admission holds, if it is live.
    public func request(of admission: Admission) -> ResourceVector? { admissions[admission] }

    /// The number of live admissions.
    public var admissionCount: Int { admissions.count }
}

extension HostResources: Codable {
    private enum CodingKeys: String, CodingKey { case capacity, overcommit, reserved, admissions, nextSerial }

    private struct SavedAdmission: Codable {
        var serial: UInt64
        var request: ResourceVector
    }

    /// Encodes the configuration and the live admissions (by serial).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(capacity, forKey: .capacity)
        try c.encode(overcommit, forKey: .overcommit)
        try c.encode(reserved, forKey: .reserved)
        try c.encode(
            admissions.map { SavedAdmission(serial: $0.key.serial, request: $0.value) }
                .sorted { $0.serial < $1.serial }, forKey: .admissions)
        try c.encode(nextSerial, forKey: .nextSerial)
    }

    /// Rebuilds the host and re-admits every saved admission, so input whose admissions
    /// exceed the host, repeat a serial or use a serial not below `nextSerial` is rejected
    /// with a `DecodingError`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let saved = try c.decode([SavedAdmission].self, forKey: .admissions)
        let nextSerial = try c.decode(UInt64.self, forKey: .nextSerial)
        do {
            self = try HostResources(
                capacity: try c.decode(ResourceVector.self, forKey: .capacity),
                overcommit: try c.decode([ResourceKind: Double].self, forKey: .overcommit),
                reserved: try c.decode(ResourceVector.self, forKey: .reserved))
        } catch let error as HostConfigurationError {
            let key: CodingKeys =
                switch error {
                case .invalidOvercommit, .overflow: .overcommit
                case .reservationExceedsCapacity: .reserved
                }
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(error)")
        }
        for a in saved {
            let admission = Admission(serial: a.serial)
            let problem: String? =
                if a.serial >= nextSerial {
                    "admission \(a.serial) is not below nextSerial \(nextSerial)"
                } else if admissions[admission] != nil {
                    "admission \(a.serial) appears twice"
                } else if let shortfall = shortfall(for: a.request) {
                    "admission \(a.serial) does not fit: \(shortfall)"
                } else {
                    nil
                }
            if let problem {
                throw DecodingError.dataCorruptedError(forKey: .admissions, in: c, debugDescription: problem)
            }
            for (kind, amount) in a.request.amounts { used[kind] += amount }
            admissions[admission] = a.request
        }
        self.nextSerial = nextSerial
    }
}
