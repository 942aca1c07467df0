import DeviceModel
import Devices

/// A disk image given to the guest as a virtio-blk device.
public struct DiskConfiguration: Codable, Sendable, Hashable {
    /// The image file.
    public var path: String
    /// The format by name (`"raw"`, `"vhd"`), or `nil` to recognise it by its contents.
    public var format: String?
    /// Whether the guest may only read it (the image is then opened read-only and shared-locked).
    public var readOnly: Bool
    /// A rate limit on its requests (bytes and operations), or `nil` for none.
    public var rateLimits: RateLimits?

    /// A disk at `path`, its format recognised unless given, writable unless `readOnly`,
    /// limited as `rateLimits` says.
    public init(path: String, format: String? = nil, readOnly: Bool = false, rateLimits: RateLimits? = nil) {
        self.path = path
        self.format = format
        self.readOnly = readOnly
        self.rateLimits = rateLimits
    }
}

/// A virtio network card backed by a TAP interface on the host (created, or opened if it
/// exists, by the VM — which needs `CAP_NET_ADMIN` — and gone with it unless persistent).
public struct NetworkConfiguration: Codable, Sendable, Hashable {
    /// The TAP interface's name (1 to 15 bytes).
    public var tapName: String
    /// The card's MAC address, or `nil` for one made from the VM's name and the card's index
    /// (locally administered, `52:54:00:…`).
    public var mac: MACAddress?
    /// A rate limit on the frames the guest receives, or `nil` for none.
    public var receiveLimits: RateLimits?
    /// A rate limit on the frames the guest sends, or `nil` for none.
    public var transmitLimits: RateLimits?

    /// A card on the TAP interface `tapName`.
    public init(
        tapName: String, mac: MACAddress? = nil, receiveLimits: RateLimits? = nil, transmitLimits: RateLimits? = nil
    ) {
        self.tapName = tapName
        self.mac = mac
        self.receiveLimits = receiveLimits
        self.transmitLimits = transmitLimits
    }
}

/// Where the serial console's output goes (and, for a socket, where its input comes from).
public enum ConsoleConfiguration: Codable, Sendable, Hashable {
    /// The VMM's standard output.
    case standardOutput
    /// A file, created or appended to.
    case file(path: String)
    /// A Unix stream socket the VMM listens on: whoever connects reads the output and types input.
    case unixSocket(path: String)
    /// Nowhere: the console exists, its output is dropped.
    case none
}

/// A virtio entropy device (virtio-rng) for the guest — Linux's `/dev/hwrng` — filled from the
/// host kernel's generator.
public struct EntropyConfiguration: Codable, Sendable, Hashable {
    /// The most bytes one request receives (at least 1).
    public var maxBytesPerRequest: Int

    /// An entropy device giving each request at most `maxBytesPerRequest` bytes.
    public init(maxBytesPerRequest: Int = 64 << 10) {
        self.maxBytesPerRequest = maxBytesPerRequest
    }
}

/// A virtio socket device (virtio-vsock) for the guest, backed by Unix sockets on the host
/// (Firecracker's design; no `/dev/vhost-vsock` needed): the guest's connections to host port
/// `P` reach the Unix socket listening at `<hostSocketPath>_P`; host processes connect to
/// `hostSocketPath` and write `CONNECT <guest port>\n` to reach a guest port (answered
/// `OK <host port>\n`). See Devices' `VirtioVsockDevice`.
public struct VsockConfiguration: Codable, Sendable, Hashable {
    /// The guest's context id: from 3 (0–2 are reserved) to `0xffff_fffe`.
    public var guestCID: UInt64
    /// Where the device listens for host processes (a stale socket file there is replaced; any
    /// other file is refused).
    public var hostSocketPath: String

    /// A vsock device for the guest `guestCID`, listening at `hostSocketPath`.
    public init(guestCID: UInt64, hostSocketPath: String) {
        self.guestCID = guestCID
        self.hostSocketPath = hostSocketPath
    }
}

/// How a VM's vCPUs share the host when a dispatcher schedules several VMs (VCPUScheduler's
/// policies read the fields they use and ignore the others).
public struct SchedulingConfiguration: Codable, Sendable, Hashable {
    /// Relative share (nice 0 = 1024), at least 1.
    public var weight: UInt32
    /// Priority for the priority policy (larger runs first), in Scheduling's
    /// `PriorityAgingPolicy.priorityRange`.
    public var priority: Int
    /// At most this much CPU time per ``capPeriodNanoseconds``, or `nil` for no cap.
    public var capQuotaNanoseconds: UInt64?
    /// The cap's period (100 ms by default, as cgroups use).
    public var capPeriodNanoseconds: UInt64
    /// A real-time budget per ``realTimePeriodNanoseconds``, or `nil` for none.
    public var realTimeBudgetNanoseconds: UInt64?
    /// The real-time period.
    public var realTimePeriodNanoseconds: UInt64

    /// Default scheduling: weight 1024, priority 0, no cap, no real-time budget.
    public init(
        weight: UInt32 = 1024, priority: Int = 0, capQuotaNanoseconds: UInt64? = nil,
        capPeriodNanoseconds: UInt64 = 100_000_000, realTimeBudgetNanoseconds: UInt64? = nil,
        realTimePeriodNanoseconds: UInt64 = 10_000_000
    ) {
        self.weight = weight
        self.priority = priority
        self.capQuotaNanoseconds = capQuotaNanoseconds
        self.capPeriodNanoseconds = capPeriodNanoseconds
        self.realTimeBudgetNanoseconds = realTimeBudgetNanoseconds
        self.realTimePeriodNanoseconds = realTimePeriodNanoseconds
    }
}
