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

    public init() {}

    /// GDT indices of the boot descriptors.
    public static let codeIndex: UInt16 = 1
    public static let dataIndex: UInt16 = 2
    public static let tssIndex: UInt16 = 3
}
