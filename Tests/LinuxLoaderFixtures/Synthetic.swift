/// Small kernel images built field by field, to break one field at a time (the loader's tests)
/// and to seed the kernel fuzz target.
public enum Synthetic {
    /// Stores `value` little-endian at `offset`.
    public static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    /// A bzImage with one setup sector after the boot sector and `kernelLength` bytes of
    /// protected-mode code (byte i is `i & 0xff`), protocol 2.15, relocatable, 2 MiB aligned,
    /// preferring 16 MiB, `init_size` 1 MiB, the version string "6.1.0-test".
    public static func bzImage(kernelLength: Int = 8192) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 1024 + kernelLength)
        b[0x1F1] = 1  // setup_sects
        put(UInt32(kernelLength / 16), at: 0x1F4, in: &b)  // syssize
        put(UInt16(0xAA55), at: 0x1FE, in: &b)
        b[0x200] = 0xEB
        b[0x201] = 0x66  // header ends at 0x268
        put(UInt32(0x5372_6448), at: 0x202, in: &b)  // HdrS
        put(UInt16(0x020F), at: 0x206, in: &b)
        put(UInt16(0x300 - 0x200), at: 0x20E, in: &b)  // kernel_version
        b[0x211] = 1  // LOADED_HIGH
        put(UInt32(0x7FFF_FFFF), at: 0x22C, in: &b)
        put(UInt32(0x20_0000), at: 0x230, in: &b)
        b[0x234] = 1
        b[0x235] = 21
        put(UInt16(0x7F), at: 0x236, in: &b)
        put(UInt32(0x7FF), at: 0x238, in: &b)
        put(UInt32(0x100), at: 0x248, in: &b)
        put(UInt32(0x200), at: 0x24C, in: &b)
        put(UInt64(0x100_0000), at: 0x258, in: &b)
        put(UInt32(0x10_0000), at: 0x260, in: &b)
        for (i, c) in "6.1.0-test".utf8.enumerated() { b[0x300 + i] = c }
        for i in 0..<kernelLength { b[1024 + i] = UInt8(truncatingIfNeeded: i) }
        return b
    }

    /// An ELF64 x86_64 executable: one `PT_LOAD` of 4 KiB of file bytes (byte i is `i & 0xff`)
    /// and 8 KiB of memory at 16 MiB, entered at 16 MiB + 0x40, and a `PT_NOTE` with
    /// `XEN_ELFNOTE_PHYS32_ENTRY` = 16 MiB + 0x80 (4-byte descriptor).
    public static func elf() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 0x1000 + 0x1000)
        b[0] = 0x7F
        b[1] = 0x45
        b[2] = 0x4C
        b[3] = 0x46
        b[4] = 2
        b[5] = 1
        b[6] = 1
        put(UInt16(2), at: 0x10, in: &b)  // ET_EXEC
        put(UInt16(62), at: 0x12, in: &b)  // x86_64
        put(UInt32(1), at: 0x14, in: &b)
        put(UInt64(0x100_0040), at: 0x18, in: &b)  // e_entry
        put(UInt64(64), at: 0x20, in: &b)  // e_phoff
        put(UInt16(64), at: 0x34, in: &b)
        put(UInt16(56), at: 0x36, in: &b)
        put(UInt16(2), at: 0x38, in: &b)
        // PT_LOAD
        put(UInt32(1), at: 64, in: &b)
        put(UInt64(0x1000), at: 64 + 8, in: &b)
        put(UInt64(0xFFFF_FFFF_8100_0000), at: 64 + 16, in: &b)
        put(UInt64(0x100_0000), at: 64 + 24, in: &b)
        put(UInt64(0x1000), at: 64 + 32, in: &b)
        put(UInt64(0x2000), at: 64 + 40, in: &b)
        // PT_NOTE at 0x200: namesz 4, descsz 4, type 18, "Xen\0", entry
        put(UInt32(4), at: 120, in: &b)
        put(UInt64(0x200), at: 120 + 8, in: &b)
        put(UInt64(0x200), at: 120 + 24, in: &b)
        put(UInt64(20), at: 120 + 32, in: &b)
        put(UInt64(20), at: 120 + 40, in: &b)
        put(UInt32(4), at: 0x200, in: &b)
        put(UInt32(4), at: 0x204, in: &b)
        put(UInt32(18), at: 0x208, in: &b)
        b[0x20C] = 0x58
        b[0x20D] = 0x65
        b[0x20E] = 0x6E
        put(UInt32(0x100_0080), at: 0x210, in: &b)
        for i in 0..<0x1000 { b[0x1000 + i] = UInt8(truncatingIfNeeded: i) }
        return b
    }
}
