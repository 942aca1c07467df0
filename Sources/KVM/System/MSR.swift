/// A model-specific register index and value (`struct kvm_msr_entry`).
public struct MSREntry: Hashable, Sendable, Codable {
    public var index: UInt32
    public var data: UInt64

    public init(index: UInt32, data: UInt64 = 0) {
        self.index = index
        self.data = data
    }
}

/// Well-known x86 MSR indices used by VMMs.
public enum MSRIndex {
    public static let tsc: UInt32 = 0x10
    public static let apicBase: UInt32 = 0x1b
    public static let sysenterCS: UInt32 = 0x174
    public static let sysenterESP: UInt32 = 0x175
    public static let sysenterEIP: UInt32 = 0x176
    public static let miscEnable: UInt32 = 0x1a0
    public static let mtrrDefType: UInt32 = 0x2ff
    public static let efer: UInt32 = 0xc000_0080
    public static let star: UInt32 = 0xc000_0081
    public static let lstar: UInt32 = 0xc000_0082
    public static let cstar: UInt32 = 0xc000_0083
    public static let syscallMask: UInt32 = 0xc000_0084
    public static let fsBase: UInt32 = 0xc000_0100
    public static let gsBase: UInt32 = 0xc000_0101
    public static let kernelGSBase: UInt32 = 0xc000_0102
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
