import KVM

/// The vCPU topology the guest sees through CPUID.
public struct CPUTopology: Hashable, Sendable {
    /// Hardware threads per core (1 without SMT).
    public var threadsPerCore: Int
    /// Cores per package (socket).
    public var coresPerPackage: Int

    /// A topology of `coresPerPackage` cores with `threadsPerCore` threads each.
    public init(threadsPerCore: Int = 1, coresPerPackage: Int) {
        self.threadsPerCore = threadsPerCore
        self.coresPerPackage = coresPerPackage
    }

    /// Logical processors per package.
    public var logicalPerPackage: Int { threadsPerCore * coresPerPackage }
}

/// Builds each vCPU's CPUID from KVM's supported list (`KVMSystem.supportedCPUID()`): the
/// APIC id in leaf 1 and the topology leaves, the hypervisor bit, and the KVM hypervisor leaf,
/// as Firecracker and Cloud Hypervisor do. A ``CPUIDTemplate`` hides features on top of that; it
/// runs after the builder (pass it as `template:`, or apply it to the result).
public enum CPUIDBuilder {
    /// The entries for the vCPU whose APIC id is `apicID`: `supported` with leaf 1 (initial APIC
    /// id, logical processor count, HTT, hypervisor bit), leaf 4 (cores per package), leaves 0xb
    /// and 0x1f (SMT and core levels, x2APIC id) and the hypervisor leaf 0x4000_0000 (KVM
    /// signature, added when missing) set for it, then `template` applied, if there is one. Pass
    /// the result to `setCPUID(_:)`.
    ///
    /// The template runs last, after every leaf above is set, so that the builder cannot set a bit
    /// it hides again (`hypervisor`, `ht`). Passing a template here gives the same entries as
    /// applying it (``CPUIDTemplate/apply(to:)``) to what this function returns without one.
    ///
    /// - Throws: ``X86SetupError/invalidTopology(_:)`` for a count below 1 or more than 255 logical
    ///   processors per package.
    public static func entries(
        from supported: [CPUIDEntry], apicID: UInt32, topology: CPUTopology, template: CPUIDTemplate? = nil
    ) throws(X86SetupError) -> [CPUIDEntry] {
        let logical = topology.logicalPerPackage
        guard topology.threadsPerCore >= 1, topology.coresPerPackage >= 1, logical <= 255 else {
            throw .invalidTopology("\(topology.threadsPerCore) threads × \(topology.coresPerPackage) cores")
        }
        let threadShift = UInt32(bitWidth(topology.threadsPerCore))
        let packageShift = UInt32(bitWidth(logical))
        var result: [CPUIDEntry] = []
        for var entry in supported {
            switch entry.function {
            case 1:
                entry.ebx = (entry.ebx & 0x0000_ffff) | (apicID << 24) | (UInt32(logical) << 16)
                if logical > 1 { entry.edx |= 1 << 28 } else { entry.edx &= ~(1 << 28) }  // HTT
                entry.ecx |= 1 << 31  // running under a hypervisor
            case 4:
                entry.eax = (entry.eax & 0x03ff_ffff) | (UInt32(topology.coresPerPackage - 1) << 26)
            case 0xb, 0x1f:
                switch entry.index {
                case 0:  // SMT level
                    entry.eax = threadShift
                    entry.ebx = UInt32(topology.threadsPerCore)
                    entry.ecx = (1 << 8) | entry.index
                case 1:  // core level
                    entry.eax = packageShift
                    entry.ebx = UInt32(logical)
                    entry.ecx = (2 << 8) | entry.index
                default:  // no further levels
                    entry.eax = 0
                    entry.ebx = 0
                    entry.ecx = entry.index
                }
                entry.edx = apicID
            case 0x4000_0000:
                entry = hypervisorLeaf(maximum: max(entry.eax, 0x4000_0001))
            default:
                break
            }
            result.append(entry)
        }
        if result.entry(function: 0x4000_0000) == nil { result.append(hypervisorLeaf(maximum: 0x4000_0000)) }
        return template?.apply(to: result) ?? result
    }

    /// Leaf 0x4000_0000: the highest hypervisor leaf and the "KVMKVMKVM\0\0\0" signature.
    static func hypervisorLeaf(maximum: UInt32) -> CPUIDEntry {
        CPUIDEntry(function: 0x4000_0000, eax: maximum, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x4d)
    }

    /// Bits needed to number `count` items (0 for 1).
    static func bitWidth(_ count: Int) -> Int { count <= 1 ? 0 : Int.bitWidth - (count - 1).leadingZeroBitCount }
}
