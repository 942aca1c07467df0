import GuestMemory
import LinuxLoader
import LinuxLoaderFixtures
import ResourceAllocator
import Testing

/// What the kernel is told at boot, field by field at the offsets of the boot protocol
/// (`Documentation/arch/x86/boot.rst`, `struct boot_params`) and of Xen's `hvm_start_info`: the
/// memory map follows the platform layout (sorted, disjoint, the legacy hole and firmware area
/// kept out of RAM); the command line is refused past the kernel's `cmdline_size`; the initrd goes
/// as high as it may, page-aligned, below `initrd_addr_max`, clear of the kernel; and a structure
/// that would overlap the kernel, the initrd or another, or leave guest memory, is refused with
/// nothing written.
@Suite struct BootParametersTests {
    static func memory(_ size: UInt64) throws -> GuestMemoryMap {
        try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: size)])
    }

    static func field<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        bytes[offset..<offset + MemoryLayout<T>.size].reversed().reduce(T.zero) { $0 << 8 | T($1) }
    }

    /// The memory map as a table of `stride`-byte entries at `offset`: address, size, type.
    static func expectTable(
        _ map: E820Map, in bytes: [UInt8], at offset: Int, stride: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (i, entry) in map.entries.enumerated() {
            let at = offset + stride * i
            #expect(
                field(UInt64.self, bytes, at) == entry.address, "entry \(i) address", sourceLocation: sourceLocation)
            #expect(field(UInt64.self, bytes, at + 8) == entry.size, "entry \(i) size", sourceLocation: sourceLocation)
            #expect(
                field(UInt32.self, bytes, at + 16) == entry.kind.rawValue, "entry \(i) type",
                sourceLocation: sourceLocation)
        }
    }

    @Test func theMemoryMapFollowsTheLayout() throws {
        let small = try E820Map.forLayout(try X86_64Layout(memorySize: 256 << 20))
        #expect(
            small.entries == [
                E820Entry(address: 0, size: 0x9_FC00, kind: .ram),
                E820Entry(address: 0x9_FC00, size: 0x400, kind: .reserved),
                E820Entry(address: 0xF_0000, size: 0x1_0000, kind: .reserved),
                E820Entry(address: 0x10_0000, size: (256 << 20) - 0x10_0000, kind: .ram),
            ])
        // Past the 32-bit MMIO hole: the rest of RAM above 4 GiB, as the layout placed it.
        let layout = try X86_64Layout(memorySize: 6 << 30)
        let big = try E820Map.forLayout(layout, reserved: [AddressRange(start: 0xFEC0_0000, size: 0x1000)!])
        let ram = big.entries.filter { $0.kind == .ram }
        #expect(ram.last == E820Entry(address: 1 << 32, size: layout.ram[1].range.size, kind: .ram))
        #expect(ram.map(\.size).reduce(0, +) == (6 << 30) - 0x6_0400, "all RAM but the 640 KiB–1 MiB hole")
        #expect(big.entries.contains(E820Entry(address: 0xFEC0_0000, size: 0x1000, kind: .reserved)))
        #expect(zip(big.entries, big.entries.dropFirst()).allSatisfy { $0.end <= $1.address }, "sorted and disjoint")
    }

    @Test func badMemoryMapsAreRefused() {
        #expect(throws: BootParametersError.invalidMemoryMap("0x1000+8192 overlaps 0x2000+4096")) {
            try E820Map([
                E820Entry(address: 0x2000, size: 0x1000, kind: .ram),
                E820Entry(address: 0x1000, size: 0x2000, kind: .ram),
            ])
        }
        #expect(throws: BootParametersError.invalidMemoryMap("the entry at 0x5000 is empty or wraps past 2^64")) {
            try E820Map([E820Entry(address: 0x5000, size: 0, kind: .ram)])
        }
        #expect(throws: BootParametersError.invalidMemoryMap("129 entries, the zero page holds 128")) {
            try E820Map((0..<129).map { E820Entry(address: UInt64($0) << 12, size: 0x1000, kind: .ram) })
        }
    }

    @Test func theZeroPageOfABzImage() throws {
        let memory = try Self.memory(256 << 20)
        let kernel = try BzImage(bytes: Synthetic.bzImage()).load(into: memory)
        let map = try E820Map.forLayout(try X86_64Layout(memorySize: 256 << 20))
        let initrd = try GuestAddressRange(start: GuestAddress(0x1_2345_6000), count: 0x1_0000_2000)
        let page = try BootParameters(
            commandLine: "console=ttyS0", memoryMap: map, initrd: initrd, acpiRSDP: GuestAddress(0xE_0000)
        ).zeroPage(for: kernel, commandLineAddress: GuestAddress(0x2_0000))
        #expect(page.count == 4096)
        // hdr: the kernel's setup header, but for the fields the loader fills in.
        var header = Array(page[0x1F1..<0x268])
        for (offset, length) in [(0x210, 1), (0x218, 8), (0x228, 4)] {
            header.replaceSubrange(
                offset - 0x1F1..<offset - 0x1F1 + length, with: kernel.setupHeader[(offset - 0x1F1)...].prefix(length))
        }
        #expect(header == kernel.setupHeader, "hdr: the kernel's setup header")
        #expect(page[0x210] == 0xFF, "type_of_loader")
        #expect(Self.field(UInt32.self, page, 0x228) == 0x2_0000, "cmd_line_ptr")
        #expect(Self.field(UInt32.self, page, 0x0C8) == 0, "ext_cmd_line_ptr")
        #expect(Self.field(UInt32.self, page, 0x218) == 0x2345_6000, "ramdisk_image")
        #expect(Self.field(UInt32.self, page, 0x0C0) == 1, "ext_ramdisk_image")
        #expect(Self.field(UInt32.self, page, 0x21C) == 0x2000, "ramdisk_size")
        #expect(Self.field(UInt32.self, page, 0x0C4) == 1, "ext_ramdisk_size")
        #expect(Self.field(UInt64.self, page, 0x070) == 0xE_0000, "acpi_rsdp_addr")
        var early = Array(page[0..<0x1E8])
        for (offset, length) in [(0x070, 8), (0x0C0, 12)] {
            early.replaceSubrange(offset..<offset + length, with: repeatElement(0, count: length))
        }
        #expect(early.allSatisfy { $0 == 0 }, "nothing else before e820_entries")
        #expect(page[0x1E8] == 4, "e820_entries")
        Self.expectTable(map, in: page, at: 0x2D0, stride: 20)
        #expect(page[(0x2D0 + 20 * 4)...].allSatisfy { $0 == 0 }, "nothing after the table")
    }

    @Test func theZeroPageOfAnELFKernel() throws {
        let memory = try Self.memory(32 << 20)
        let kernel = try ElfKernel(bytes: Synthetic.elf()).load(into: memory)
        let map = try E820Map.forLayout(try X86_64Layout(memorySize: 32 << 20))
        let page = try BootParameters(commandLine: "x", memoryMap: map).zeroPage(
            for: kernel, commandLineAddress: GuestAddress(0x2_0000))
        #expect(Self.field(UInt16.self, page, 0x1FE) == 0xAA55, "boot_flag")
        #expect(Self.field(UInt32.self, page, 0x202) == 0x5372_6448, "header: HdrS")
        #expect(Self.field(UInt32.self, page, 0x238) == 2047, "cmdline_size")
        #expect(page[0x210] == 0xFF && Self.field(UInt32.self, page, 0x228) == 0x2_0000)
        #expect(Self.field(UInt32.self, page, 0x218) == 0 && Self.field(UInt32.self, page, 0x21C) == 0, "no initrd")
        #expect(Self.field(UInt64.self, page, 0x070) == 0, "acpi_rsdp_addr: none")
    }

    @Test func theCommandLineIsCheckedAgainstTheKernel() throws {
        let memory = try Self.memory(32 << 20)
        let kernel = try BzImage(bytes: Synthetic.bzImage()).load(into: memory)  // cmdline_size 2047
        let map = try E820Map.forLayout(try X86_64Layout(memorySize: 32 << 20))
        let longest = String(repeating: "a", count: 2047)
        #expect(try BootParameters(commandLine: longest, memoryMap: map).commandLineBytes(for: kernel).count == 2048)
        #expect(
            throws: BootParametersError.invalidCommandLine("2048 bytes, the kernel takes at most 2047 (cmdline_size)")
        ) { try BootParameters(commandLine: longest + "a", memoryMap: map).commandLineBytes(for: kernel) }
        #expect(throws: BootParametersError.invalidCommandLine("it holds a NUL byte")) {
            try BootParameters(commandLine: "a\u{0}b", memoryMap: map).commandLineBytes(for: kernel)
        }
    }

    @Test func writingChecksEveryPlaceFirst() throws {
        let memory = try Self.memory(32 << 20)
        let kernel = try BzImage(bytes: Synthetic.bzImage()).load(into: memory)  // 16 MiB + 1 MiB
        let map = try E820Map.forLayout(try X86_64Layout(memorySize: 32 << 20))
        let parameters = BootParameters(commandLine: "console=ttyS0", memoryMap: map)
        try parameters.write(
            for: kernel, zeroPage: GuestAddress(0x7000), commandLineAddress: GuestAddress(0x2_0000), into: memory)
        #expect(try memory.readBytes(count: 14, at: GuestAddress(0x2_0000)) == Array("console=ttyS0\u{0}".utf8))
        #expect(try memory.read(UInt8.self, at: GuestAddress(0x7000 + 0x210)) == 0xFF)
        let fresh = try Self.memory(32 << 20)
        let cases: [(BootParametersError, GuestAddress, GuestAddress)] = [
            (
                .doesNotFit(what: "the zero page, which overlaps the kernel,", address: 0x100_0000, length: 4096),
                GuestAddress(0x100_0000), GuestAddress(0x2_0000)
            ),
            (
                .doesNotFit(what: "the command line, which overlaps the zero page,", address: 0x7800, length: 14),
                GuestAddress(0x7000), GuestAddress(0x7800)
            ),
            (
                .doesNotFit(what: "the command line", address: 32 << 20, length: 14),
                GuestAddress(0x7000), GuestAddress(32 << 20)
            ),
        ]
        for (expected, zeroPage, commandLine) in cases {
            #expect(throws: expected) {
                try parameters.write(for: kernel, zeroPage: zeroPage, commandLineAddress: commandLine, into: fresh)
            }
        }
        #expect(try fresh.readBytes(count: 4096, at: GuestAddress(0x7000)).allSatisfy { $0 == 0 }, "nothing written")
    }

    @Test func theInitrdGoesAsHighAsItMay() throws {
        let memory = try Self.memory(256 << 20)
        let kernel = try BzImage(bytes: Synthetic.bzImage()).load(into: memory)  // [16 MiB, 17 MiB)
        let map = try E820Map.forLayout(try X86_64Layout(memorySize: 256 << 20))
        // At the top of RAM: its start rounded down to a page, so it ends just below 256 MiB.
        #expect(
            try BootParameters.placeInitrd(size: 0x10_0001, kernel: kernel, memoryMap: map)
                == GuestAddressRange(start: GuestAddress(((256 << 20) - 0x10_0001) & ~0xFFF), count: 0x10_0001))
        // Below initrd_addr_max: 64 MiB − 1.
        var bytes = Synthetic.bzImage()
        Synthetic.put(UInt32((64 << 20) - 1), at: 0x22C, in: &bytes)
        let capped = try BzImage(bytes: bytes).load(into: memory)
        #expect(
            try BootParameters.placeInitrd(size: 0x10_0000, kernel: capped, memoryMap: map)
                == GuestAddressRange(start: GuestAddress(63 << 20), count: 0x10_0000))
        // Clear of the kernel: RAM [1 MiB, 18 MiB) with the kernel at [16, 17) MiB.
        let tight = try E820Map([E820Entry(address: 0x10_0000, size: (18 << 20) - 0x10_0000, kind: .ram)])
        #expect(
            try BootParameters.placeInitrd(size: 1 << 20, kernel: kernel, memoryMap: tight)
                == GuestAddressRange(start: GuestAddress(17 << 20), count: 1 << 20))
        #expect(
            try BootParameters.placeInitrd(size: 2 << 20, kernel: kernel, memoryMap: tight)
                == GuestAddressRange(start: GuestAddress(14 << 20), count: 2 << 20))
        #expect(
            throws: BootParametersError.initrdDoesNotFit(
                "\(16 << 20) bytes: no page-aligned place in RAM below 0x80000000 clear of the kernel")
        ) { try BootParameters.placeInitrd(size: 16 << 20, kernel: kernel, memoryMap: tight) }
    }

    @Test func thePVHStartInfoFieldByField() throws {
        let memory = try Self.memory(32 << 20)
        let kernel = try ElfKernel(bytes: Synthetic.elf()).load(into: memory)
        let map = try E820Map.forLayout(try X86_64Layout(memorySize: 32 << 20))
        let initrd = try GuestAddressRange(start: GuestAddress(0x180_0000), count: 0x1234)
        let parameters = BootParameters(
            commandLine: "console=ttyS0", memoryMap: map, initrd: initrd, acpiRSDP: GuestAddress(0xE_0000))
        try PVHStartInfo.write(
            parameters, kernel: kernel, at: GuestAddress(0x6000), commandLineAddress: GuestAddress(0x2_0000),
            into: memory)
        let info = try memory.readBytes(count: 56 + 4 * 24 + 32, at: GuestAddress(0x6000))
        #expect(Self.field(UInt32.self, info, 0) == 0x336E_C578, "magic")
        #expect(Self.field(UInt32.self, info, 4) == 1, "version")
        #expect(Self.field(UInt32.self, info, 12) == 1, "nr_modules")
        #expect(Self.field(UInt64.self, info, 16) == 0x6000 + 56 + 4 * 24, "modlist_paddr")
        #expect(Self.field(UInt64.self, info, 24) == 0x2_0000, "cmdline_paddr")
        #expect(Self.field(UInt64.self, info, 32) == 0xE_0000, "rsdp_paddr")
        #expect(Self.field(UInt64.self, info, 40) == 0x6000 + 56, "memmap_paddr")
        #expect(Self.field(UInt32.self, info, 48) == 4, "memmap_entries")
        Self.expectTable(map, in: info, at: 56, stride: 24)
        let module = 56 + 4 * 24
        #expect(
            Self.field(UInt64.self, info, module) == 0x180_0000 && Self.field(UInt64.self, info, module + 8) == 0x1234)
        #expect(try memory.readBytes(count: 14, at: GuestAddress(0x2_0000)) == Array("console=ttyS0\u{0}".utf8))
    }
}
