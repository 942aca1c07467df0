/// Which interrupt controllers ``KVMVirtualMachine/prepareForX86(irqChip:)`` creates in the
/// kernel.
public enum X86IRQChipMode: Hashable, Sendable {
    /// None: the VMM emulates every interrupt controller, or the guest needs none.
    case none
    /// The PIC pair, the IOAPIC and the local APICs (`KVM_CREATE_IRQCHIP`).
    case full
    /// Only the local APICs; the PIC and IOAPIC are the VMM's (`KVM_CAP_SPLIT_IRQCHIP`), with
    /// `ioapicPins` GSIs reserved for its routes.
    case split(ioapicPins: UInt64)
}

extension KVMVirtualMachine {
    /// Where ``prepareForX86(irqChip:)`` places the three-page real-mode TSS: just below the
    /// 4 GiB boundary's BIOS area, as Firecracker and Cloud Hypervisor do. Keep memory slots
    /// and MMIO windows off `[0xfffb_c000, 0xfffc_0000)`.
    public static let x86TSSAddress: UInt64 = 0xfffb_d000
    /// Where ``prepareForX86(irqChip:)`` places the one-page EPT identity map (the page below
    /// the TSS, as Cloud Hypervisor does).
    public static let x86IdentityMapAddress: UInt64 = 0xfffb_c000

    /// What every x86 VM needs before its first vCPU: the real-mode TSS
    /// (``setTSSAddress(_:)`` at ``x86TSSAddress``), the EPT identity map
    /// (``setIdentityMapAddress(_:)`` at ``x86IdentityMapAddress``) and, when asked, the
    /// in-kernel interrupt controllers. Call once, before ``createVCPU(id:)``.
    public func prepareForX86(irqChip: X86IRQChipMode = .none) throws(KVMError) {
        try setIdentityMapAddress(Self.x86IdentityMapAddress)
        try setTSSAddress(Self.x86TSSAddress)
        switch irqChip {
        case .none: break
        case .full: try createIRQChip()
        case .split(let pins): try createSplitIRQChip(ioapicPins: pins)
        }
    }
}
