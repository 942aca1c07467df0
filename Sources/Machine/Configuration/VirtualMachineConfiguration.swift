/// Everything a ``VirtualMachine`` is built from, as a value: checked as a whole by
/// ``validate()`` before anything is created, and `Codable`, so a VM can be described in a file.
///
/// ```swift
/// var configuration = VirtualMachineConfiguration(
///     name: "web", vcpuCount: 2, memorySize: 256 << 20,
///     boot: .linux(LinuxBoot(kernel: "vmlinuz", commandLine: "console=ttyS0")))
/// configuration.disks = [DiskConfiguration(path: "root.vhd")]
/// try configuration.validate()   // every problem at once, nothing created
/// ```
public struct VirtualMachineConfiguration: Codable, Sendable, Hashable {
    /// A name for reports and logs (1 to 64 printable characters).
    public var name: String
    /// The number of vCPUs (1 to ``maximumVCPUs``).
    public var vcpuCount: Int
    /// Guest RAM in bytes: a whole number of 4 KiB pages (of 2 MiB pages with huge pages), from
    /// ``minimumMemorySize`` to ``maximumMemorySize``.
    public var memorySize: UInt64
    /// What host memory backs guest RAM.
    public var memoryBacking: MemoryBacking
    /// What the vCPUs start: a flat binary or a Linux kernel.
    public var boot: BootSource
    /// virtio-blk disks, in the order the guest sees them (at most ``maximumDisks``).
    public var disks: [DiskConfiguration]
    /// Where the serial console (COM1) goes.
    public var console: ConsoleConfiguration
    /// A virtio console (Linux's `hvc0`, with `console=hvc0`) and where its port goes, or `nil`
    /// for none: standard output, a file (appended to) or nowhere (`.none`: the device exists,
    /// its output is discarded). A Unix socket is not supported for it yet. Its output never
    /// blocks a vCPU: while its destination is slow, the guest's output waits in the ring.
    public var virtioConsole: ConsoleConfiguration?
    /// A virtio entropy device, or `nil` for none.
    public var entropy: EntropyConfiguration?
    /// A virtio socket device (vsock) to talk to the guest through host Unix sockets, or `nil`
    /// for none.
    public var vsock: VsockConfiguration?
    /// Network cards (virtio-net on TAP interfaces), at most ``maximumNetworks``.
    public var networks: [NetworkConfiguration]
    /// How the VM's vCPUs are scheduled when a dispatcher shares the host among VMs.
    public var scheduling: SchedulingConfiguration
    /// CPUID features hidden from the guest, by their `/proc/cpuinfo` names (see VCPU's
    /// `CPUIDTemplate`).
    public var hiddenCPUIDFeatures: [String]
    /// How the virtio devices are served: on an event loop (one per VM by default, polling
    /// adaptively) or inline on the vCPU.
    public var deviceService: DeviceServiceConfiguration

    /// The most vCPUs: what one package's topology leaves and the MADT's 8-bit APIC ids allow.
    public static let maximumVCPUs = 254
    /// The least guest RAM (the boot structures, page tables and a small guest fit in it).
    public static let minimumMemorySize: UInt64 = 2 << 20
    /// The most guest RAM this package maps for one VM.
    public static let maximumMemorySize: UInt64 = 1 << 40
    /// The most disks: one virtio-mmio device each, each with its own ISA-range interrupt.
    public static let maximumDisks = 16
    /// The most network cards.
    public static let maximumNetworks = 8

    /// A configuration with the given essentials; everything else at its default (anonymous
    /// memory, no disks, console on standard output, default scheduling, no hidden features,
    /// devices on one adaptively polling loop, no virtio console, no entropy device, no vsock).
    public init(
        name: String = "vm", vcpuCount: Int = 1, memorySize: UInt64 = 128 << 20, boot: BootSource,
        memoryBacking: MemoryBacking = .anonymous, disks: [DiskConfiguration] = [],
        console: ConsoleConfiguration = .standardOutput, scheduling: SchedulingConfiguration = .init(),
        hiddenCPUIDFeatures: [String] = [], deviceService: DeviceServiceConfiguration = .init(),
        virtioConsole: ConsoleConfiguration? = nil, entropy: EntropyConfiguration? = nil,
        vsock: VsockConfiguration? = nil, networks: [NetworkConfiguration] = []
    ) {
        self.name = name
        self.vcpuCount = vcpuCount
        self.memorySize = memorySize
        self.boot = boot
        self.memoryBacking = memoryBacking
        self.disks = disks
        self.console = console
        self.scheduling = scheduling
        self.hiddenCPUIDFeatures = hiddenCPUIDFeatures
        self.deviceService = deviceService
        self.virtioConsole = virtioConsole
        self.entropy = entropy
        self.vsock = vsock
        self.networks = networks
    }

    /// Reads a configuration; `networks` may be absent (configurations from before it existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        vcpuCount = try c.decode(Int.self, forKey: .vcpuCount)
        memorySize = try c.decode(UInt64.self, forKey: .memorySize)
        boot = try c.decode(BootSource.self, forKey: .boot)
        memoryBacking = try c.decode(MemoryBacking.self, forKey: .memoryBacking)
        disks = try c.decode([DiskConfiguration].self, forKey: .disks)
        console = try c.decode(ConsoleConfiguration.self, forKey: .console)
        virtioConsole = try c.decodeIfPresent(ConsoleConfiguration.self, forKey: .virtioConsole)
        entropy = try c.decodeIfPresent(EntropyConfiguration.self, forKey: .entropy)
        vsock = try c.decodeIfPresent(VsockConfiguration.self, forKey: .vsock)
        networks = try c.decodeIfPresent([NetworkConfiguration].self, forKey: .networks) ?? []
        scheduling = try c.decode(SchedulingConfiguration.self, forKey: .scheduling)
        hiddenCPUIDFeatures = try c.decode([String].self, forKey: .hiddenCPUIDFeatures)
        deviceService = try c.decode(DeviceServiceConfiguration.self, forKey: .deviceService)
    }
}

/// What host memory backs guest RAM.
public enum MemoryBacking: String, Codable, Sendable, Hashable, CaseIterable {
    /// Private anonymous memory (the default).
    case anonymous
    /// A memfd, shareable with another process (a device backend, a snapshot tool).
    case memfd
    /// 2 MiB pages from the host's hugetlb pool (the memory size must be a multiple of 2 MiB and
    /// the pool large enough).
    case hugePages
    /// Transparent huge pages (`madvise(MADV_HUGEPAGE)`), when the host enables them.
    case transparentHugePages
}
