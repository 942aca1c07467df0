import GuestMemory

/// What a kernel is told at boot: its command line, the memory map and the initrd. Written as
/// the zero page (`struct boot_params`) for the 64-bit boot protocol, or as an `hvm_start_info`
/// for PVH (``PVHStartInfo``).
public struct BootParameters: Sendable, Hashable {
    /// The kernel command line.
    public var commandLine: String
    /// The memory map.
    public var memoryMap: E820Map
    /// Where the initrd was put, if there is one.
    public var initrd: GuestAddressRange?
    /// The ACPI RSDP's address (``ACPITables/write(at:into:)``), given to the kernel in the zero
    /// page's `acpi_rsdp_addr`; a kernel older than 5.0 finds it by scanning 0xE0000–0xFFFFF.
    public var acpiRSDP: GuestAddress?

    /// The longest command line an ELF kernel takes (`COMMAND_LINE_SIZE` on x86, less the
    /// terminating zero); a bzImage says its own (`cmdline_size`).
    public static let elfCommandLineSize = 2047
    /// `type_of_loader`: 0xFF, a loader without an assigned id.
    public static let typeOfLoader: UInt8 = 0xFF
    /// The size of the zero page.
    public static let zeroPageSize = 4096

    /// Boot parameters with these values.
    public init(
        commandLine: String, memoryMap: E820Map, initrd: GuestAddressRange? = nil, acpiRSDP: GuestAddress? = nil
    ) {
        self.commandLine = commandLine
        self.memoryMap = memoryMap
        self.initrd = initrd
        self.acpiRSDP = acpiRSDP
    }

    /// The command line's bytes with the terminating zero, checked against what `kernel` takes.
    public func commandLineBytes(for kernel: LoadedKernel) throws(BootParametersError) -> [UInt8] {
        let bytes = Array(commandLine.utf8)
        guard !bytes.contains(0) else { throw .invalidCommandLine("it holds a NUL byte") }
        let limit = Self.commandLineLimit(of: kernel)
        guard bytes.count <= limit else {
            throw .invalidCommandLine("\(bytes.count) bytes, the kernel takes at most \(limit) (cmdline_size)")
        }
        return bytes + [0]
    }

    /// `cmdline_size` of a bzImage's header, ``elfCommandLineSize`` for an ELF kernel.
    static func commandLineLimit(of kernel: LoadedKernel) -> Int {
        let header = kernel.setupHeader
        let at = 0x238 - 0x1F1
        guard header.count >= at + 4 else { return elfCommandLineSize }
        return Int(header[at..<at + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }

    /// The zero page for `kernel`, the command line at `commandLineAddress`: the kernel's setup
    /// header (or, for an ELF kernel, the fields the kernel checks: boot flag, `HdrS`), with
    /// `type_of_loader`, `cmd_line_ptr`, the initrd's address and size (low halves in the
    /// header, high halves in `ext_*`), `acpi_rsdp_addr` and the e820 table filled in.
    public func zeroPage(for kernel: LoadedKernel, commandLineAddress: GuestAddress) throws(BootParametersError)
        -> [UInt8]
    {
        var page = [UInt8](repeating: 0, count: Self.zeroPageSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { page[offset + i] = b } }
        }
        let header = kernel.setupHeader
        if header.isEmpty {
            put(UInt16(0xAA55), at: 0x1FE)
            put(UInt32(0x5372_6448), at: 0x202)  // HdrS
            put(UInt16(0x020F), at: 0x206)
            put(UInt32(0x100_0000), at: 0x230)  // kernel_alignment
            put(UInt32(Self.elfCommandLineSize), at: 0x238)
        } else {
            let length = min(header.count, Self.zeroPageSize - 0x1F1)
            page.replaceSubrange(0x1F1..<0x1F1 + length, with: header[0..<length])
        }
        page[0x210] = Self.typeOfLoader
        put(UInt32(truncatingIfNeeded: commandLineAddress.rawValue), at: 0x228)  // cmd_line_ptr
        put(UInt32(truncatingIfNeeded: commandLineAddress.rawValue >> 32), at: 0x0C8)  // ext_cmd_line_ptr
        if let initrd {
            put(UInt32(truncatingIfNeeded: initrd.start.rawValue), at: 0x218)  // ramdisk_image
            put(UInt32(truncatingIfNeeded: initrd.count), at: 0x21C)  // ramdisk_size
            put(UInt32(truncatingIfNeeded: initrd.start.rawValue >> 32), at: 0x0C0)  // ext_ramdisk_image
            put(UInt32(truncatingIfNeeded: initrd.count >> 32), at: 0x0C4)  // ext_ramdisk_size
        }
        if let acpiRSDP { put(acpiRSDP.rawValue, at: 0x070) }  // acpi_rsdp_addr
        page[0x1E8] = UInt8(memoryMap.entries.count)  // e820_entries
        for (i, entry) in memoryMap.entries.enumerated() {
            let at = 0x2D0 + 20 * i
            put(entry.address, at: at)
            put(entry.size, at: at + 8)
            put(entry.kind.rawValue, at: at + 16)
        }
        return page
    }

    /// Writes the zero page at `zeroPage` and the command line at `commandLineAddress`, after
    /// checking that both lie in guest memory, do not overlap each other, the kernel or the
    /// initrd: nothing is written otherwise. Enter the kernel at `kernel.entry64` with RSI =
    /// `zeroPage`.
    public func write(
        for kernel: LoadedKernel, zeroPage: GuestAddress, commandLineAddress: GuestAddress,
        into memory: some GuestMemoryAccess
    ) throws(BootParametersError) {
        let commandLine = try commandLineBytes(for: kernel)
        let page = try self.zeroPage(for: kernel, commandLineAddress: commandLineAddress)
        try placeStructures(
            [
                ("the zero page", zeroPage, UInt64(page.count)),
                ("the command line", commandLineAddress, UInt64(commandLine.count)),
            ],
            kernel: kernel, in: memory)
        do {
            try memory.write(contentsOf: page, at: zeroPage)
            try memory.write(contentsOf: commandLine, at: commandLineAddress)
        } catch {
            throw .doesNotFit(what: "the zero page", address: zeroPage.rawValue, length: UInt64(page.count))
        }
    }

    /// Checks that each structure lies in writable guest memory and overlaps neither another,
    /// the kernel nor the initrd.
    func placeStructures(
        _ structures: [(String, GuestAddress, UInt64)], kernel: LoadedKernel, in memory: some GuestMemoryAccess
    ) throws(BootParametersError) {
        var taken: [(String, GuestAddressRange)] = [("the kernel", kernel.range)]
        if let initrd { taken.append(("the initrd", initrd)) }
        for (name, address, length) in structures {
            guard length <= UInt64(Int.max), let range = try? GuestAddressRange(start: address, count: length),
                (try? memory.withHostSegments(at: address, count: Int(length), forWriting: true) { _ in ((), 0) })
                    != nil
            else { throw .doesNotFit(what: name, address: address.rawValue, length: length) }
            if let (other, _) = taken.first(where: { $0.1.overlaps(range) }) {
                throw .doesNotFit(what: "\(name), which overlaps \(other),", address: address.rawValue, length: length)
            }
            taken.append((name, range))
        }
    }

    /// Where an initrd of `size` bytes goes: page-aligned, as high as possible in one RAM entry of
    /// `memoryMap` below 4 GiB, ending at or below the kernel's `initrd_addr_max` (a bzImage's;
    /// 4 GiB − 1 for an ELF kernel), clear of the kernel and of `avoiding`.
    ///
    /// - Throws: ``BootParametersError/initrdDoesNotFit(_:)`` when no such place exists.
    public static func placeInitrd(
        size: UInt64, kernel: LoadedKernel, memoryMap: E820Map, avoiding: [GuestAddressRange] = []
    ) throws(BootParametersError) -> GuestAddressRange {
        guard size > 0 else { throw .initrdDoesNotFit("it is empty") }
        let limit = initrdAddressMax(of: kernel)
        let taken = [kernel.range] + avoiding
        for entry in memoryMap.lowRAM.reversed() {
            var top = min(entry.end, limit + 1)
            while top > entry.address, top - entry.address >= size {
                let start = (top - size) & ~UInt64(4095)
                guard start >= entry.address,
                    let range = try? GuestAddressRange(start: GuestAddress(start), count: size)
                else { break }
                guard let blocker = taken.first(where: { $0.overlaps(range) }) else { return range }
                top = blocker.start.rawValue  // try below what is in the way
            }
        }
        throw .initrdDoesNotFit(
            "\(size) bytes: no page-aligned place in RAM below 0x\(String(limit + 1, radix: 16)) clear of the kernel")
    }

    /// `initrd_addr_max` of a bzImage's header; 4 GiB − 1 for an ELF kernel.
    static func initrdAddressMax(of kernel: LoadedKernel) -> UInt64 {
        let header = kernel.setupHeader
        let at = 0x22C - 0x1F1
        guard header.count >= at + 4 else { return (1 << 32) - 1 }
        return UInt64(header[at..<at + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }
}
