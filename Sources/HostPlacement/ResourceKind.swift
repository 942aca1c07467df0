/// The name of one resource dimension of a host: vCPUs, memory, storage, or anything a
/// caller defines (`ResourceKind("gpus")`, `"network-mbps"`).
public struct ResourceKind: Hashable, Comparable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The dimension's name; kinds with the same name are the same dimension.
    public let name: String

    /// A dimension called `name`.
    public init(_ name: String) { self.name = name }

    public init(stringLiteral value: String) { name = value }

    public init(from decoder: any Decoder) throws {
        name = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }

    public static func < (a: ResourceKind, b: ResourceKind) -> Bool { a.name < b.name }

    public var description: String { name }

    /// Virtual CPUs (count).
    public static let vcpus = ResourceKind("vcpus")
    /// Memory in bytes.
    public static let memory = ResourceKind("memory")
    /// Storage in bytes.
    public static let storage = ResourceKind("storage")
}
