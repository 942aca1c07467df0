/// One CPUID leaf (or sub-leaf) as KVM reports and accepts it (`struct kvm_cpuid_entry2`).
public struct CPUIDEntry: Hashable, Sendable, Codable {
    /// The leaf, the value of EAX when CPUID executes.
    public var function: UInt32
    /// The sub-leaf, the value of ECX, when `flags` has `KVM_CPUID_FLAG_SIGNIFCANT_INDEX`.
    public var index: UInt32
    /// `KVM_CPUID_FLAG_*` bits.
    public var flags: UInt32
    /// The value CPUID returns in EAX.
    public var eax: UInt32
    /// The value CPUID returns in EBX.
    public var ebx: UInt32
    /// The value CPUID returns in ECX.
    public var ecx: UInt32
    /// The value CPUID returns in EDX.
    public var edx: UInt32

    /// An entry for leaf `function`, sub-leaf `index`, with the given flags and register values.
    public init(
        function: UInt32, index: UInt32 = 0, flags: UInt32 = 0,
        eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0
    ) {
        self.function = function
        self.index = index
        self.flags = flags
        self.eax = eax
        self.ebx = ebx
        self.ecx = ecx
        self.edx = edx
    }

    init(_ raw: kvm_cpuid_entry2) {
        self.init(
            function: raw.function, index: raw.index, flags: raw.flags,
            eax: raw.eax, ebx: raw.ebx, ecx: raw.ecx, edx: raw.edx)
    }

    var raw: kvm_cpuid_entry2 {
        var entry = kvm_cpuid_entry2()
        entry.function = function
        entry.index = index
        entry.flags = flags
        entry.eax = eax
        entry.ebx = ebx
        entry.ecx = ecx
        entry.edx = edx
        return entry
    }

    /// Whether `index` selects a sub-leaf of `function`.
    public var hasSignificantIndex: Bool { flags & UInt32(KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0 }
}

extension Array where Element == CPUIDEntry {
    /// The entry for `function` / `index` (the index is ignored for leaves without sub-leaves).
    public func entry(function: UInt32, index: UInt32 = 0) -> CPUIDEntry? {
        first { $0.function == function && (!$0.hasSignificantIndex || $0.index == index) }
    }
}

/// Runs `body` with a `kvm_cpuid2` holding `entries`.
func withCPUID2<R>(
    _ entries: [CPUIDEntry], _ body: (UnsafeMutablePointer<kvm_cpuid2>) throws(KVMError) -> R
) throws(KVMError) -> R {
    try withFlexibleArray(header: kvm_cpuid2.self, entry: kvm_cpuid_entry2.self, count: entries.count) {
        (header, slots) throws(KVMError) -> R in
        header.pointee.nent = UInt32(entries.count)
        for (i, entry) in entries.enumerated() { slots[i] = entry.raw }
        return try body(header)
    }
}

/// Calls a CPUID-listing ioctl with a buffer that grows until the kernel stops answering `E2BIG`.
func readCPUIDList(
    startingCapacity: Int = 128, _ call: (UnsafeMutablePointer<kvm_cpuid2>) throws(KVMError) -> Void
) throws(KVMError) -> [CPUIDEntry] {
    try withGrowingCapacity(startingCapacity: startingCapacity) { (capacity) throws(KVMError) -> [CPUIDEntry] in
        try withFlexibleArray(header: kvm_cpuid2.self, entry: kvm_cpuid_entry2.self, count: capacity) {
            (header, slots) throws(KVMError) -> [CPUIDEntry] in
            header.pointee.nent = UInt32(capacity)
            try call(header)
            let count = min(Int(header.pointee.nent), capacity)
            return (0..<count).map { CPUIDEntry(slots[$0]) }
        }
    }
}
