import GuestMemory

/// Where the boot structures go in guest memory (the addresses Firecracker and Cloud
/// Hypervisor use, all in the first 64 KiB).
public struct X86BootLayout: Hashable, Sendable {
    /// The GDT: null, code, data, TSS descriptors.
    public var gdt: GuestAddress = GuestAddress(0x500)
    /// An empty IDT (the guest installs its own).
    public var idt: GuestAddress = GuestAddress(0x520)
    /// The identity-map page tables (PML4; PDPT and directories follow).
    public var pageTables: GuestAddress = GuestAddress(0x9000)

    /// The default layout: GDT at 0x500, IDT at 0x520, page tables at 0x9000.
    public init() {}

    /// GDT index of the boot code segment (selector 0x08).
    public static let codeIndex: UInt16 = 1
    /// GDT index of the boot data segment (selector 0x10).
    public static let dataIndex: UInt16 = 2
    /// GDT index of the boot TSS (selector 0x18).
    public static let tssIndex: UInt16 = 3
}
