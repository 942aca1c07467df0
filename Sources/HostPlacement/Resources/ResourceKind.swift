/// The name of one resource dimension of a host: vCPUs, memory, storage, or anything a
/// caller defines (`ResourceKind("gpus")`, `"network-mbps"`).
public struct ResourceKind: Hashable, Comparable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The dimension's name; kinds with the same name are the same dimension.
    public let name: String

    /// A dimension called `name`.
    public init(_ name: String) { self.name = name }

    /// A dimension named by a string literal, e.g. `"gpus" as ResourceKind`.
    public init(stringLiteral value: String) { name = value }

    /// Decodes a kind from its name, a single string.
    public init(from decoder: any Decoder) throws {
        name = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the kind as its name, a single string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }

    /// Orders kinds by name.
    public static func < (a: ResourceKind, b: ResourceKind) -> Bool { a.name < b.name }

    /// The name.
    public var description: String { name }

    /// Virtual CPUs (count).
    public static let vcpus = ResourceKind("vcpus")
    /// Memory in bytes.
    public static let memory = ResourceKind("memory")
    /// Storage in bytes.
    public static let storage = ResourceKind("storage")
}
