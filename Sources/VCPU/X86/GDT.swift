import KVM

/// x86 segment descriptors: encoding a GDT entry and turning one into the `kvm_segment` KVM
/// wants, so the descriptor-table contents and the segment caches agree.
public enum GDT {
    /// Access/flags word for a 64-bit code segment (G, L, P, S, execute/read, accessed).
    public static let code64: UInt16 = 0xa09b
    /// A 32-bit code segment (G, D/B, P, S, execute/read, accessed).
    public static let code32: UInt16 = 0xc09b
    /// A data segment (G, D/B, P, S, read/write, accessed).
    public static let data: UInt16 = 0xc093
    /// A 64-bit TSS (G, P, type 0xb: busy).
    public static let tss: UInt16 = 0x808b

    /// Encodes a descriptor from its flags (bits 0–7 of the word are the access byte, bits 12–15
    /// the G, D/B, L and AVL flags, as the CPU lays them out in bits 40–55), base and limit.
    public static func entry(flags: UInt16, base: UInt32, limit: UInt32) -> UInt64 {
        let base = UInt64(base)
        let limit = UInt64(limit)
        let flags = UInt64(flags)
        return ((base & 0xff00_0000) << (56 - 24)) | ((flags & 0x0000_f0ff) << 40)
            | ((limit & 0x000f_0000) << (48 - 16)) | ((base & 0x00ff_ffff) << 16) | (limit & 0x0000_ffff)
    }

    /// The segment register contents for descriptor `entry` at GDT index `index`.
    public static func segment(entry: UInt64, index: UInt16) -> Segment {
        var segment = Segment()
        let granular = (entry >> 55) & 1 == 1
        let rawLimit = UInt32(((entry >> 32) & 0x000f_0000) | (entry & 0xffff))
        segment.base = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000)
        segment.limit = granular ? (rawLimit << 12) | 0xfff : rawLimit
        segment.selector = index * 8
        segment.type = UInt8((entry >> 40) & 0xf)
        segment.s = UInt8((entry >> 44) & 1)
        segment.dpl = UInt8((entry >> 45) & 3)
        segment.present = UInt8((entry >> 47) & 1)
        segment.avl = UInt8((entry >> 52) & 1)
        segment.l = UInt8((entry >> 53) & 1)
        segment.db = UInt8((entry >> 54) & 1)
        segment.g = granular ? 1 : 0
        segment.unusable = segment.present == 0 ? 1 : 0
        return segment
    }
}
