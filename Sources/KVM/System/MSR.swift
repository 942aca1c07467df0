/// A model-specific register index and value (`struct kvm_msr_entry`).
public struct MSREntry: Hashable, Sendable, Codable {
    /// The MSR's index (the value of ECX for RDMSR and WRMSR); see ``MSRIndex``.
    public var index: UInt32
    /// The MSR's value.
    public var data: UInt64

    /// An entry for MSR `index` with value `data` (0 for an entry to be read).
    public init(index: UInt32, data: UInt64 = 0) {
        self.index = index
        self.data = data
    }
}

/// Well-known x86 MSR indices used by VMMs (a namespace of constants).
public enum MSRIndex {
    /// `IA32_TIME_STAMP_COUNTER` (0x10): the time-stamp counter.
    public static let tsc: UInt32 = 0x10
    /// `IA32_APIC_BASE` (0x1b): the local APIC's base address, enable and BSP bits.
    public static let apicBase: UInt32 = 0x1b
    /// `IA32_SYSENTER_CS` (0x174): the code segment SYSENTER loads.
    public static let sysenterCS: UInt32 = 0x174
    /// `IA32_SYSENTER_ESP` (0x175): the stack pointer SYSENTER loads.
    public static let sysenterESP: UInt32 = 0x175
    /// `IA32_SYSENTER_EIP` (0x176): the entry point SYSENTER jumps to.
    public static let sysenterEIP: UInt32 = 0x176
    /// `IA32_MISC_ENABLE` (0x1a0): miscellaneous feature enables (bit 0: fast string operations).
    public static let miscEnable: UInt32 = 0x1a0
    /// `IA32_MTRR_DEF_TYPE` (0x2ff): the default memory type and the MTRR enable bits.
    public static let mtrrDefType: UInt32 = 0x2ff
    /// `IA32_EFER` (0xc000_0080): extended features (SCE, LME, LMA, NXE).
    public static let efer: UInt32 = 0xc000_0080
    /// `STAR` (0xc000_0081): the segment selectors of SYSCALL and SYSRET.
    public static let star: UInt32 = 0xc000_0081
    /// `LSTAR` (0xc000_0082): the 64-bit SYSCALL entry point.
    public static let lstar: UInt32 = 0xc000_0082
    /// `CSTAR` (0xc000_0083): the compatibility-mode SYSCALL entry point.
    public static let cstar: UInt32 = 0xc000_0083
    /// `SFMASK` (0xc000_0084): the RFLAGS bits SYSCALL clears.
    public static let syscallMask: UInt32 = 0xc000_0084
    /// `FS.base` (0xc000_0100): the FS segment base in 64-bit mode.
    public static let fsBase: UInt32 = 0xc000_0100
    /// `GS.base` (0xc000_0101): the GS segment base in 64-bit mode.
    public static let gsBase: UInt32 = 0xc000_0101
    /// `KernelGSbase` (0xc000_0102): the value SWAPGS exchanges with the GS base.
    public static let kernelGSBase: UInt32 = 0xc000_0102
    /// `TSC_AUX` (0xc000_0103): the value RDTSCP and RDPID return (usually the CPU number).
    public static let tscAux: UInt32 = 0xc000_0103
}

/// Runs a `KVM_GET_MSRS` / `KVM_SET_MSRS` style ioctl on `entries` and returns the entries the
/// kernel processed (the ioctl's result is how many it handled, in order).
func transferMSRs(
    _ entries: [MSREntry], _ call: (UnsafeMutablePointer<kvm_msrs>) throws(KVMError) -> Int32
) throws(KVMError) -> [MSREntry] {
    try withFlexibleArray(header: kvm_msrs.self, entry: kvm_msr_entry.self, count: entries.count) {
        (header, slots) throws(KVMError) -> [MSREntry] in
        header.pointee.nmsrs = UInt32(entries.count)
        for (i, entry) in entries.enumerated() {
            slots[i] = kvm_msr_entry(index: entry.index, reserved: 0, data: entry.data)
        }
        let processed = min(Int(try call(header)), entries.count)
        return (0..<processed).map { MSREntry(index: slots[$0].index, data: slots[$0].data) }
    }
}

/// Calls an MSR-index-listing ioctl, growing the buffer while the kernel answers `E2BIG`.
func readMSRIndexList(_ call: (UnsafeMutablePointer<kvm_msr_list>) throws(KVMError) -> Void) throws(KVMError)
    -> [UInt32]
{
    try withGrowingCapacity(startingCapacity: 256) { (capacity) throws(KVMError) -> [UInt32] in
        try withFlexibleArray(header: kvm_msr_list.self, entry: UInt32.self, count: capacity) {
            (header, slots) throws(KVMError) -> [UInt32] in
            header.pointee.nmsrs = UInt32(capacity)
            try call(header)
            return (0..<min(Int(header.pointee.nmsrs), capacity)).map { slots[$0] }
        }
    }
}
