/// What the vCPUs start.
public enum BootSource: Codable, Sendable, Hashable {
    /// A flat binary image (raw machine code) copied into RAM and entered directly.
    case flatBinary(FlatBinaryBoot)
    /// A Linux kernel (bzImage or ELF vmlinux) with its initrd and command line.
    case linux(LinuxBoot)
}

/// A raw image loaded at ``loadAddress`` and entered at ``entry`` in ``mode`` by every vCPU at
/// once (no INIT/SIPI), with these registers (the way `mini-vmm`'s guest starts):
///
/// - RDI: the vCPU's index;
/// - RSI and RDX: the first disk's virtio-mmio window base and its GSI (0 without a disk);
/// - RCX: the vCPU count;
/// - R8 and R9: the virtio console's window base and its GSI (0 without one);
/// - R10 and R11: the vsock device's window base and its GSI (0 without one);
/// - R12 and R13: the first network card's window base and its GSI (0 without one);
/// - RSP (and RBP): ``stackBase`` + (index + 1) × ``stackSize`` when there is a stack base, else 0.
///
/// Interrupts are off; the rest of the general registers is 0.
public struct FlatBinaryBoot: Codable, Sendable, Hashable {
    /// The processor mode the vCPUs start in.
    public enum Mode: String, Codable, Sendable, Hashable, CaseIterable {
        /// Real mode, CS:IP from the entry's low 20 bits.
        case real
        /// 32-bit protected mode, paging off.
        case protected
        /// 64-bit long mode with the low 4 GiB identity-mapped.
        case long
    }

    /// The image file.
    public var path: String
    /// Where the image is copied in guest memory.
    public var loadAddress: UInt64
    /// Where the vCPUs start (inside the loaded image).
    public var entry: UInt64
    /// The processor mode at the entry.
    public var mode: Mode
    /// Where the vCPUs' stacks start, or `nil` for none (RSP = 0).
    public var stackBase: UInt64?
    /// Each vCPU's stack size (4 KiB by default).
    public var stackSize: UInt64

    /// A flat binary at `path`, loaded at `loadAddress`, entered at `entry` (the load address by
    /// default) in `mode`.
    public init(
        path: String, loadAddress: UInt64 = 0x10_0000, entry: UInt64? = nil, mode: Mode = .long,
        stackBase: UInt64? = nil, stackSize: UInt64 = 0x1000
    ) {
        self.path = path
        self.loadAddress = loadAddress
        self.entry = entry ?? loadAddress
        self.mode = mode
        self.stackBase = stackBase
        self.stackSize = stackSize
    }
}

/// A Linux kernel, its initrd and command line.
public struct LinuxBoot: Codable, Sendable, Hashable {
    /// Which entry of the kernel the boot vCPU starts at.
    public enum Entry: String, Codable, Sendable, Hashable, CaseIterable {
        /// PVH for an ELF kernel with the Xen note, the 64-bit boot protocol otherwise.
        case auto
        /// Linux's 64-bit boot protocol (zero page in RSI).
        case linux64
        /// The PVH entry (ELF kernels with `XEN_ELFNOTE_PHYS32_ENTRY` only).
        case pvh
    }

    /// The kernel: a bzImage or an ELF vmlinux.
    public var kernel: String
    /// The initrd (initramfs), if any.
    public var initrd: String?
    /// The kernel command line.
    public var commandLine: String
    /// The entry the boot vCPU starts at.
    public var entry: Entry

    /// The longest command line checked here (x86's `COMMAND_LINE_SIZE` less its NUL); a
    /// bzImage's own `cmdline_size` is checked again when it is loaded.
    public static let maximumCommandLineLength = 2047

    /// A kernel with an optional initrd and a command line (a serial console by default).
    public init(
        kernel: String, initrd: String? = nil, commandLine: String = "console=ttyS0 reboot=k panic=-1",
        entry: Entry = .auto
    ) {
        self.kernel = kernel
        self.initrd = initrd
        self.commandLine = commandLine
        self.entry = entry
    }
}
