/// The setup header of a bzImage (the Linux x86 boot protocol, `Documentation/arch/x86/boot.rst`):
/// the fields a loader reads, at their offsets in the file, parsed and validated for the 64-bit
/// boot protocol.
public struct SetupHeader: Hashable, Sendable {
    /// `setup_sects`: 512-byte sectors of real-mode setup code after the boot sector (0 means 4).
    public var setupSectors: UInt8
    /// `syssize`: size of the protected-mode code in 16-byte paragraphs.
    public var systemSize: UInt32
    /// `version`: the boot protocol version, major in the high byte (`0x020f` is 2.15).
    public var version: UInt16
    /// `loadflags` (bit 0 `LOADED_HIGH`: the protected-mode code goes at 1 MiB or above).
    public var loadFlags: UInt8
    /// `initrd_addr_max`: the highest address an initrd's last byte may have.
    public var initrdAddressMax: UInt32
    /// `kernel_alignment`: the alignment a relocatable kernel must be loaded at.
    public var kernelAlignment: UInt32
    /// `relocatable_kernel`: whether the kernel may be loaded at another aligned address.
    public var relocatable: Bool
    /// `min_alignment`: log2 of the smallest alignment the kernel accepts.
    public var minimumAlignmentShift: UInt8
    /// `xloadflags` (bit 0 `XLF_KERNEL_64`: a 64-bit entry point at load address + 0x200).
    public var extendedLoadFlags: UInt16
    /// `cmdline_size`: the longest command line, in bytes, without its terminating zero.
    public var commandLineSize: UInt32
    /// `payload_offset`: where the compressed kernel starts, from the start of the
    /// protected-mode code.
    public var payloadOffset: UInt32
    /// `payload_length`: the compressed kernel's length.
    public var payloadLength: UInt32
    /// `pref_address`: where the kernel prefers to be loaded.
    public var preferredAddress: UInt64
    /// `init_size`: the bytes of memory, from the load address, the kernel needs to start
    /// (decompression included).
    public var initSize: UInt32
    /// The kernel version string (`kernel_version`), when the header has one.
    public var kernelVersion: String?

    /// The header's offset of its own end: byte 0x201 holds the jump's target relative to 0x202.
    static let start: UInt64 = 0x1F1
    /// `HdrS`.
    static let magic: UInt32 = 0x5372_6448
    /// `XLF_KERNEL_64`.
    public static let kernel64 = UInt16(1)
    /// `LOADED_HIGH`.
    public static let loadedHigh = UInt8(1)
    /// The oldest boot protocol with `xloadflags` (2.12): the 64-bit entry point needs it.
    public static let minimumVersion: UInt16 = 0x020C

    /// The setup code's size in bytes: the boot sector and `setup_sects` sectors.
    public var setupSize: UInt64 { (UInt64(setupSectors == 0 ? 4 : setupSectors) + 1) * 512 }
    /// Whether the kernel has the 64-bit entry point.
    public var has64BitEntry: Bool { extendedLoadFlags & Self.kernel64 != 0 }

    /// Whether `bytes` start like a bzImage: the boot flag `0xAA55` and the `HdrS` magic.
    static func recognizes(_ bytes: ByteReader) -> Bool {
        (try? bytes.value(UInt16.self, at: 0x1FE, in: "")) == 0xAA55
            && (try? bytes.value(UInt32.self, at: 0x202, in: "")) == magic
    }

    /// Parses and validates the header of the bzImage in `bytes`.
    init(_ bytes: ByteReader) throws(KernelImageError) {
        let name = "setup header"
        try bytes.require(name, offset: 0, length: 0x268)
        let bootFlag = try bytes.value(UInt16.self, at: 0x1FE, in: name)
        guard bootFlag == 0xAA55 else {
            throw .invalidField(field: "boot_flag", value: UInt64(bootFlag), reason: "not 0xAA55")
        }
        let header = try bytes.value(UInt32.self, at: 0x202, in: name)
        guard header == Self.magic else {
            throw .invalidField(field: "header", value: UInt64(header), reason: "not \"HdrS\"")
        }
        version = try bytes.value(UInt16.self, at: 0x206, in: name)
        guard version >= Self.minimumVersion else {
            throw .unsupported(
                "boot protocol \(version >> 8).\(version & 0xFF) is older than 2.12, the first with a 64-bit entry point"
            )
        }
        setupSectors = try bytes.value(UInt8.self, at: 0x1F1, in: name)
        systemSize = try bytes.value(UInt32.self, at: 0x1F4, in: name)
        loadFlags = try bytes.value(UInt8.self, at: 0x211, in: name)
        initrdAddressMax = try bytes.value(UInt32.self, at: 0x22C, in: name)
        kernelAlignment = try bytes.value(UInt32.self, at: 0x230, in: name)
        relocatable = try bytes.value(UInt8.self, at: 0x234, in: name) != 0
        minimumAlignmentShift = try bytes.value(UInt8.self, at: 0x235, in: name)
        extendedLoadFlags = try bytes.value(UInt16.self, at: 0x236, in: name)
        commandLineSize = try bytes.value(UInt32.self, at: 0x238, in: name)
        payloadOffset = try bytes.value(UInt32.self, at: 0x248, in: name)
        payloadLength = try bytes.value(UInt32.self, at: 0x24C, in: name)
        preferredAddress = try bytes.value(UInt64.self, at: 0x258, in: name)
        initSize = try bytes.value(UInt32.self, at: 0x260, in: name)

        guard loadFlags & Self.loadedHigh != 0 else {
            throw .invalidField(
                field: "loadflags", value: UInt64(loadFlags), reason: "LOADED_HIGH is clear: a zImage, not a bzImage")
        }
        guard has64BitEntry else {
            throw .unsupported(
                "xloadflags 0x\(String(extendedLoadFlags, radix: 16)) has no 64-bit entry point (XLF_KERNEL_64)")
        }
        guard kernelAlignment >= 4096, kernelAlignment & (kernelAlignment - 1) == 0 else {
            throw .invalidField(
                field: "kernel_alignment", value: UInt64(kernelAlignment),
                reason: "not a power of two of at least 4 KiB")
        }
        guard minimumAlignmentShift >= 12, minimumAlignmentShift < 64,
            UInt64(1) << minimumAlignmentShift <= UInt64(kernelAlignment)
        else {
            throw .invalidField(
                field: "min_alignment", value: UInt64(minimumAlignmentShift),
                reason: "not between 4 KiB and kernel_alignment (as a power of two)")
        }
        guard preferredAddress >= 0x10_0000, preferredAddress % (UInt64(1) << minimumAlignmentShift) == 0 else {
            throw .invalidField(
                field: "pref_address", value: preferredAddress, reason: "below 1 MiB or not aligned to min_alignment")
        }
        guard commandLineSize > 0 else {
            throw .invalidField(field: "cmdline_size", value: 0, reason: "the kernel takes no command line")
        }
        // The protected-mode code follows the setup code; syssize paragraphs of it must be there.
        let setup = setupSize
        try bytes.require("setup code (setup_sects)", offset: 0, length: setup)
        let kernelLength = bytes.count - setup
        guard kernelLength > 0 else {
            throw .truncated(structure: "protected-mode kernel", needed: setup + 1, fileSize: bytes.count)
        }
        guard UInt64(systemSize) * 16 <= kernelLength else {
            throw .truncated(
                structure: "protected-mode kernel (syssize)", needed: setup + UInt64(systemSize) * 16,
                fileSize: bytes.count)
        }
        guard UInt64(initSize) >= kernelLength else {
            throw .invalidField(
                field: "init_size", value: UInt64(initSize),
                reason: "smaller than the \(kernelLength)-byte protected-mode kernel it must hold")
        }
        guard UInt64(payloadOffset) + UInt64(payloadLength) <= kernelLength else {
            throw .invalidField(
                field: "payload_length", value: UInt64(payloadLength),
                reason:
                    "the payload at offset \(payloadOffset) runs past the \(kernelLength)-byte protected-mode kernel")
        }
        // kernel_version: an offset from 0x200 to a zero-terminated string inside the setup code.
        let versionOffset = try bytes.value(UInt16.self, at: 0x20E, in: name)
        kernelVersion = nil
        if versionOffset != 0 {
            let start = 0x200 + UInt64(versionOffset)
            if start < setup {
                let text = bytes.slice(start, setup - start).prefix { $0 != 0 }.prefix(256)
                kernelVersion = String(decoding: text, as: UTF8.self)
            }
        }
    }
}
