import Foundation
import GuestMemory
import HostSupport
import LinuxLoader
import LinuxLoaderFixtures
import TestSupport
import Testing

/// Every field a loader trusts is checked: a bzImage or ELF kernel with one field broken is
/// refused with the error naming that field (never a crash, never a read or write outside the
/// file or guest memory), and random corruption of a valid image is either refused or still
/// loads inside the memory it was given.
@Suite struct ImageHeaderTests {
    /// The error `original` changed by `change` is refused with (nil if it is accepted).
    func error(of original: [UInt8], _ change: (inout [UInt8]) -> Void) -> KernelImageError? {
        var bytes = original
        change(&bytes)
        do {
            _ = try KernelImage(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    func bzImageError(_ change: (inout [UInt8]) -> Void) -> KernelImageError? { error(of: Synthetic.bzImage(), change) }

    @Test func theSyntheticImagesParse() throws {
        guard case .bzImage(let bz) = try KernelImage(bytes: Synthetic.bzImage()) else {
            Issue.record("not a bzImage")
            return
        }
        #expect(bz.header.version == 0x020F && bz.header.setupSize == 1024 && bz.header.kernelVersion == "6.1.0-test")
        #expect(bz.protectedModeKernel.count == 8192)
        #expect(bz.setupHeaderBytes.count == 0x268 - 0x1F1)
        guard case .elf(let elf) = try KernelImage(bytes: Synthetic.elf()) else {
            Issue.record("not an ELF kernel")
            return
        }
        #expect(elf.entry == 0x100_0040 && elf.pvhEntry == 0x100_0080)
        #expect(
            elf.segments == [
                ElfKernel.Segment(physicalAddress: 0x100_0000, fileOffset: 0x1000, fileSize: 0x1000, memorySize: 0x2000)
            ])
    }

    @Test func eachBrokenBzImageFieldIsNamed() {
        let cases: [(String, KernelImageError, (inout [UInt8]) -> Void)] = [
            ("a text file", .unrecognized, { $0 = Array("just text\n".utf8) }),
            (
                "protocol 2.11",
                .unsupported("boot protocol 2.11 is older than 2.12, the first with a 64-bit entry point"),
                { Synthetic.put(UInt16(0x020B), at: 0x206, in: &$0) }
            ),
            (
                "a zImage",
                .invalidField(field: "loadflags", value: 0, reason: "LOADED_HIGH is clear: a zImage, not a bzImage"),
                { $0[0x211] = 0 }
            ),
            (
                "no 64-bit entry", .unsupported("xloadflags 0x7e has no 64-bit entry point (XLF_KERNEL_64)"),
                { Synthetic.put(UInt16(0x7E), at: 0x236, in: &$0) }
            ),
            (
                "alignment 3000",
                .invalidField(field: "kernel_alignment", value: 3000, reason: "not a power of two of at least 4 KiB"),
                { Synthetic.put(UInt32(3000), at: 0x230, in: &$0) }
            ),
            (
                "min_alignment 40",
                .invalidField(
                    field: "min_alignment", value: 40,
                    reason: "not between 4 KiB and kernel_alignment (as a power of two)"),
                { $0[0x235] = 40 }
            ),
            (
                "pref_address 0x1234",
                .invalidField(
                    field: "pref_address", value: 0x1234, reason: "below 1 MiB or not aligned to min_alignment"),
                { Synthetic.put(UInt64(0x1234), at: 0x258, in: &$0) }
            ),
            (
                "cmdline_size 0",
                .invalidField(field: "cmdline_size", value: 0, reason: "the kernel takes no command line"),
                { Synthetic.put(UInt32(0), at: 0x238, in: &$0) }
            ),
            (
                "setup_sects past the file",
                .truncated(structure: "setup code (setup_sects)", needed: 131_072, fileSize: 9216),
                { $0[0x1F1] = 255 }
            ),
            (
                "syssize past the file",
                .truncated(structure: "protected-mode kernel (syssize)", needed: 1024 + 0x10_0000 * 16, fileSize: 9216),
                { Synthetic.put(UInt32(0x10_0000), at: 0x1F4, in: &$0) }
            ),
            (
                "init_size too small",
                .invalidField(
                    field: "init_size", value: 4096,
                    reason: "smaller than the 8192-byte protected-mode kernel it must hold"),
                { Synthetic.put(UInt32(4096), at: 0x260, in: &$0) }
            ),
            (
                "payload past the kernel",
                .invalidField(
                    field: "payload_length", value: 0xFFFF_FF00,
                    reason: "the payload at offset 256 runs past the 8192-byte protected-mode kernel"),
                { Synthetic.put(UInt32(0xFFFF_FF00), at: 0x24C, in: &$0) }
            ),
            (
                "a header cut short", .truncated(structure: "setup header", needed: 0x268, fileSize: 0x210),
                { $0 = Array($0.prefix(0x210)) }
            ),
        ]
        for (what, expected, change) in cases {
            #expect(bzImageError(change) == expected, "\(what)")
        }
    }

    func elfError(_ change: (inout [UInt8]) -> Void) -> KernelImageError? { error(of: Synthetic.elf(), change) }

    @Test func eachBrokenELFFieldIsNamed() {
        let load = 64, note = 120
        let cases: [(String, KernelImageError, (inout [UInt8]) -> Void)] = [
            ("32-bit", .unsupported("ELF class 1: only 64-bit ELF files are loaded"), { $0[4] = 1 }),
            ("big-endian", .unsupported("ELF data encoding 2: only little-endian files are loaded"), { $0[5] = 2 }),
            (
                "aarch64", .unsupported("e_machine 183: not x86_64 (62)"),
                { Synthetic.put(UInt16(183), at: 0x12, in: &$0) }
            ),
            (
                "a shared object", .invalidField(field: "e_type", value: 3, reason: "not ET_EXEC (2)"),
                { Synthetic.put(UInt16(3), at: 0x10, in: &$0) }
            ),
            (
                "e_phentsize 32",
                .invalidField(field: "e_phentsize", value: 32, reason: "not 56, the size of an ELF64 program header"),
                { Synthetic.put(UInt16(32), at: 0x36, in: &$0) }
            ),
            (
                "no program headers", .invalidField(field: "e_phnum", value: 0, reason: "not between 1 and 1024"),
                { Synthetic.put(UInt16(0), at: 0x38, in: &$0) }
            ),
            (
                "program headers past the file",
                .truncated(structure: "program headers (e_phoff, e_phnum)", needed: 0x2000 + 112, fileSize: 0x2000),
                { Synthetic.put(UInt64(0x2000), at: 0x20, in: &$0) }
            ),
            (
                "p_filesz > p_memsz",
                .invalidField(field: "PT_LOAD[0].p_filesz", value: 0x3000, reason: "larger than p_memsz 8192"),
                { Synthetic.put(UInt64(0x3000), at: load + 32, in: &$0) }
            ),
            (
                "segment past the file",
                .truncated(structure: "PT_LOAD[0] (p_offset, p_filesz)", needed: 0x2001 + 0x1000, fileSize: 0x2000),
                { Synthetic.put(UInt64(0x2001), at: load + 8, in: &$0) }
            ),
            (
                "segment wrapping 2^64",
                .invalidField(
                    field: "PT_LOAD[0].p_paddr", value: UInt64.max - 0xFFF,
                    reason: "p_paddr + p_memsz overflows 64 bits"),
                { Synthetic.put(UInt64.max - 0xFFF, at: load + 24, in: &$0) }
            ),
            (
                "entry outside", .invalidField(field: "e_entry", value: 0x10, reason: "not inside a PT_LOAD segment"),
                { Synthetic.put(UInt64(0x10), at: 0x18, in: &$0) }
            ),
            (
                "PVH entry outside",
                .invalidField(field: "XEN_ELFNOTE_PHYS32_ENTRY", value: 0x10, reason: "not inside a PT_LOAD segment"),
                { Synthetic.put(UInt32(0x10), at: 0x210, in: &$0) }
            ),
            (
                "PVH descriptor of 3 bytes",
                .invalidField(field: "XEN_ELFNOTE_PHYS32_ENTRY", value: 3, reason: "descriptor not 4 or 8 bytes"),
                { Synthetic.put(UInt32(3), at: 0x204, in: &$0) }
            ),
            (
                "note running past its segment",
                .invalidField(field: "ELF note at 512", value: 0x1000 + 4, reason: "runs past its PT_NOTE segment"),
                { Synthetic.put(UInt32(0x1000), at: 0x200, in: &$0) }
            ),
            (
                "PT_NOTE past the file",
                .truncated(structure: "PT_NOTE (p_offset, p_filesz)", needed: 0x1FF0 + 20, fileSize: 0x2000),
                { Synthetic.put(UInt64(0x1FF0), at: note + 8, in: &$0) }
            ),
        ]
        for (what, expected, change) in cases {
            #expect(elfError(change) == expected, "\(what)")
        }
    }

    /// Random bytes of a valid image overwritten, 3000 times per kind: each result is refused
    /// with a ``KernelImageError`` or loads inside the 32 MiB it is given — nothing traps.
    @Test func randomCorruptionIsRefusedOrLoadsInBounds() throws {
        let memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: 32 << 20)])
        var rng = SeededGenerator(seed: 16)
        var refused = 0, loaded = 0
        for original in [Synthetic.bzImage(), Synthetic.elf()] {
            for _ in 0..<3000 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = Int.random(in: 0..<min(bytes.count, 0x300), using: &rng)
                    bytes[at] = UInt8.random(in: 0...255, using: &rng)
                }
                do {
                    let kernel = try KernelImage(bytes: bytes).load(into: memory)
                    #expect(kernel.range.start.rawValue + kernel.range.count <= 32 << 20)
                    loaded += 1
                } catch {
                    refused += 1
                }
            }
        }
        #expect(refused > 0 && loaded > 0, "refused \(refused), loaded \(loaded)")
    }

    @Test func filesThatCannotBeReadNameThePath() throws {
        let dir = try TemporaryDirectory()
        #expect(
            throws: KernelImageError.io(
                path: dir.file("none"),
                SystemCallError(operation: "open \(dir.file("none"))", errno: .noSuchFileOrDirectory))
        ) { try KernelImage(contentsOf: dir.file("none")) }
        try Data("not a kernel\n".utf8).write(to: URL(fileURLWithPath: dir.file("text")))
        #expect(throws: KernelImageError.unrecognized) { try KernelImage(contentsOf: dir.file("text")) }
    }
}
