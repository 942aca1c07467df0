import GuestMemory

/// The kind of kernel image a ``KernelImage`` is.
public enum KernelImageKind: String, Sendable, Hashable, Codable {
    /// A bzImage (setup code and compressed kernel).
    case bzImage
    /// An ELF `vmlinux`.
    case elf
}

/// A kernel copied into guest memory: the range it occupies and how to enter it.
public struct LoadedKernel: Sendable, Hashable {
    /// What was loaded.
    public var kind: KernelImageKind
    /// The guest memory the kernel occupies and needs from its load address (for a bzImage,
    /// all of `init_size`; for an ELF file, every `PT_LOAD` segment's memory size, lowest to
    /// highest): nothing else may be placed there.
    public var range: GuestAddressRange
    /// The 64-bit boot protocol entry point (long mode, the zero page's address in RSI): load
    /// address + 0x200 for a bzImage, `e_entry` for an ELF file.
    public var entry64: GuestAddress?
    /// The PVH entry point (32-bit protected mode, paging off, the `hvm_start_info` address in
    /// EBX), from an ELF file's `XEN_ELFNOTE_PHYS32_ENTRY` note; nil without one.
    public var pvhEntry: GuestAddress?
    /// The setup header as it goes into the zero page (bzImage only; empty for ELF).
    public var setupHeader: [UInt8]
    /// The boot protocol version of the setup header (bzImage only).
    public var bootProtocolVersion: UInt16?

    /// A loaded kernel with these fields.
    public init(
        kind: KernelImageKind, range: GuestAddressRange, entry64: GuestAddress?, pvhEntry: GuestAddress?,
        setupHeader: [UInt8], bootProtocolVersion: UInt16?
    ) {
        self.kind = kind
        self.range = range
        self.entry64 = entry64
        self.pvhEntry = pvhEntry
        self.setupHeader = setupHeader
        self.bootProtocolVersion = bootProtocolVersion
    }
}
