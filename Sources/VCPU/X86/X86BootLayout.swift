import GuestMemory

/// Where the boot structures go in guest memory (the addresses Firecracker and Cloud
/// Hypervisor use, all in the first 64 KiB) and which GDT slots hold the boot segments.
public struct X86BootLayout: Hashable, Sendable {
    /// The GDT: null, code, data, TSS descriptors.
    public var gdt: GuestAddress = GuestAddress(0x500)
    /// An empty IDT (the guest installs its own).
    public var idt: GuestAddress = GuestAddress(0x520)
    /// The identity-map page tables (PML4; PDPT and directories follow).
    public var pageTables: GuestAddress = GuestAddress(0x9000)

    /// GDT index of the boot code segment (selector `codeIndex << 3`; 1, selector 0x08, by default).
    public var codeIndex: UInt16 = 1
    /// GDT index of the boot data segment (2, selector 0x10, by default).
    public var dataIndex: UInt16 = 2
    /// GDT index of the boot TSS (3, selector 0x18, by default).
    public var tssIndex: UInt16 = 3

    /// The default layout: GDT at 0x500 (code, data, TSS at indices 1, 2, 3), IDT at 0x520, page
    /// tables at 0x9000.
    public init() {}

    /// A layout with the given addresses and GDT indices (each from 1 to 15, all different).
    public init(
        gdt: GuestAddress = GuestAddress(0x500), idt: GuestAddress = GuestAddress(0x520),
        pageTables: GuestAddress = GuestAddress(0x9000), codeIndex: UInt16 = 1, dataIndex: UInt16 = 2,
        tssIndex: UInt16 = 3
    ) {
        self.gdt = gdt
        self.idt = idt
        self.pageTables = pageTables
        self.codeIndex = codeIndex
        self.dataIndex = dataIndex
        self.tssIndex = tssIndex
    }

    /// What Linux's 64-bit boot protocol asks for: the code segment at `__BOOT_CS` (0x10, index 2)
    /// and the data segment at `__BOOT_DS` (0x18, index 3), the TSS after them; the IDT moved to
    /// 0x530 to clear the five-entry GDT.
    public static let linux = X86BootLayout(idt: GuestAddress(0x530), codeIndex: 2, dataIndex: 3, tssIndex: 4)

    /// The number of GDT entries the layout needs (the null descriptor and every index).
    var gdtEntries: Int { Int(max(codeIndex, dataIndex, tssIndex)) + 1 }

    /// Checks that the indices are distinct, from 1 to 15, and that the GDT and the IDT (one
    /// empty 8-byte entry) do not overlap.
    func validate() throws(X86SetupError) {
        let indices = [codeIndex, dataIndex, tssIndex]
        guard indices.allSatisfy({ (1...15).contains($0) }), Set(indices).count == 3 else {
            throw .invalidLayout("GDT indices \(codeIndex), \(dataIndex), \(tssIndex): each 1 to 15, all different")
        }
        let gdtEnd = gdt.rawValue + UInt64(gdtEntries * 8)
        guard gdtEnd <= idt.rawValue || idt.rawValue + 8 <= gdt.rawValue else {
            throw .invalidLayout(
                "the GDT (0x\(String(gdt.rawValue, radix: 16)), \(gdtEntries) entries) overlaps the IDT at 0x\(String(idt.rawValue, radix: 16))"
            )
        }
    }
}
