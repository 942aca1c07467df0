/// An amount of each of several resources, for example a VM request
/// `R = R_cpu + R_mem + R_storage` or a host's capacity. Amounts are integers (vCPUs,
/// bytes) so admitting and releasing is exact. Missing kinds are zero.
public struct ResourceVector: Hashable, Sendable, Codable, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    /// The non-zero amounts.
    public private(set) var amounts: [ResourceKind: UInt64] = [:]

    /// An empty vector (all zero).
    public init() {}

    /// A vector with the given amounts (zeros are dropped).
    public init(_ amounts: [ResourceKind: UInt64]) {
        for (kind, amount) in amounts where amount > 0 { self.amounts[kind] = amount }
    }

    /// A vector from a literal such as `[.vcpus: 8, .memory: 16 << 30]`; zeros are dropped and a kind
    /// that appears twice gets the sum of its amounts.
    public init(dictionaryLiteral elements: (ResourceKind, UInt64)...) {
        for (kind, amount) in elements where amount > 0 { amounts[kind, default: 0] += amount }
    }

    /// Decodes a vector from a dictionary of kind names to amounts (zeros are dropped).
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([ResourceKind: UInt64].self))
    }

    /// Encodes the non-zero amounts as a dictionary keyed by kind name.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(amounts)
    }

    /// The amount of `kind` (zero when absent).
    public subscript(kind: ResourceKind) -> UInt64 {
        get { amounts[kind] ?? 0 }
        set { amounts[kind] = newValue == 0 ? nil : newValue }
    }

    /// The kinds with a non-zero amount, sorted by name.
    public var kinds: [ResourceKind] { amounts.keys.sorted() }

    /// Whether every amount is zero.
    public var isZero: Bool { amounts.isEmpty }

    /// `{kind: amount, …}` in kind-name order, non-zero amounts only.
    public var description: String {
        "{" + kinds.map { "\($0.name): \(self[$0])" }.joined(separator: ", ") + "}"
    }
}
