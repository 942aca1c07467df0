import GuestMemory
import KVM

/// Errors of the x86_64 set-up helpers.
public enum X86SetupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Writing the boot structures into guest memory failed (too little memory, read-only…).
    case memory(GuestMemoryError)
    /// A KVM operation failed.
    case kvm(KVMError)
    /// The identity map must cover 1 byte to 512 GiB.
    case invalidIdentityMapSize(UInt64)
    /// An address that must be page aligned is not.
    case misaligned(String, UInt64)
    /// More vCPUs than the topology leaves can describe.
    case invalidTopology(String)
    /// An ``X86BootLayout`` whose GDT indices are out of range or repeated, or whose GDT
    /// overlaps its IDT.
    case invalidLayout(String)

    /// A one-line message.
    public var description: String {
        switch self {
        case .memory(let error): "writing boot structures: \(error)"
        case .kvm(let error): "\(error)"
        case .invalidIdentityMapSize(let size): "identity map of \(size) bytes must be between 1 byte and 512 GiB"
        case .misaligned(let what, let address): "\(what) 0x\(String(address, radix: 16)) is not page aligned"
        case .invalidTopology(let message): "invalid topology: \(message)"
        case .invalidLayout(let message): "invalid boot layout: \(message)"
        }
    }
}
