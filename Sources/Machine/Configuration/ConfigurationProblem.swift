import VCPU

/// One thing wrong with a ``VirtualMachineConfiguration``, naming the field (and file) at fault.
public enum ConfigurationProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name is empty, longer than 64 characters or holds a control character.
    case name(String)
    /// The vCPU count is outside 1 to ``VirtualMachineConfiguration/maximumVCPUs``.
    case vcpuCount(Int)
    /// The memory size is outside the limits or not a whole number of pages; the string says which.
    case memorySize(UInt64, String)
    /// A file the VM needs (`what`: "kernel", "initrd", "boot image", "disk 0" …) cannot be read.
    case unreadableFile(what: String, path: String, reason: String)
    /// A flat binary does not fit in guest RAM, or its entry is outside it; the string says how.
    case flatBinary(String)
    /// The kernel command line holds a NUL byte or is too long.
    case commandLine(String)
    /// Two disks name the same file.
    case duplicateDisk(path: String)
    /// A disk names a format this package does not know.
    case unknownDiskFormat(path: String, format: String)
    /// More disks than ``VirtualMachineConfiguration/maximumDisks``.
    case tooManyDisks(Int)
    /// The console's file or socket path cannot be created (its directory does not exist).
    case consolePath(String, reason: String)
    /// The virtio console's destination cannot be used (a Unix socket, or a file whose
    /// directory does not exist); the string says why.
    case virtioConsole(String)
    /// The entropy device's parameters are out of range; the string says which.
    case entropy(String)
    /// The vsock device's parameters cannot be used (a reserved context id, a socket path too
    /// long or in a directory that does not exist); the string says which.
    case vsock(String)
    /// A network card cannot be used (too many, a TAP name out of range or given twice); the
    /// string says which.
    case network(String)
    /// A rate limit has a bucket of size or refill time 0; the string says whose.
    case rateLimits(String)
    /// The scheduling parameters are out of range; the string says which.
    case scheduling(String)
    /// A hidden CPUID feature list that cannot be used (an unknown or baseline feature).
    case cpuidFeatures(CPUIDTemplateError)

    /// One line naming the field and the problem.
    public var description: String {
        switch self {
        case .name(let name): "name \"\(name)\": 1 to 64 printable characters"
        case .vcpuCount(let count): "vcpuCount \(count): from 1 to \(VirtualMachineConfiguration.maximumVCPUs)"
        case .memorySize(let size, let why): "memorySize \(size): \(why)"
        case .unreadableFile(let what, let path, let reason): "\(what) \(path): \(reason)"
        case .flatBinary(let why): "boot image: \(why)"
        case .commandLine(let why): "commandLine: \(why)"
        case .duplicateDisk(let path): "disks: \(path) is given twice"
        case .unknownDiskFormat(let path, let format): "disk \(path): unknown format \"\(format)\""
        case .tooManyDisks(let count):
            "disks: \(count), at most \(VirtualMachineConfiguration.maximumDisks)"
        case .consolePath(let path, let reason): "console \(path): \(reason)"
        case .virtioConsole(let why): "virtioConsole: \(why)"
        case .entropy(let why): "entropy: \(why)"
        case .vsock(let why): "vsock: \(why)"
        case .network(let why): "networks: \(why)"
        case .rateLimits(let why): "rate limits: \(why)"
        case .scheduling(let why): "scheduling: \(why)"
        case .cpuidFeatures(let why): "hiddenCPUIDFeatures: \(why)"
        }
    }
}

/// A configuration that cannot be used, with every problem found.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Every problem, in the order of the configuration's fields.
    public let problems: [ConfigurationProblem]

    /// The problems, one per line.
    public var description: String {
        "invalid configuration: " + problems.map(\.description).joined(separator: "; ")
    }
}
