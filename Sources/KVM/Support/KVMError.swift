import HostSupport
import SystemPackage

/// The error every KVM operation throws.
///
/// A failed system call carries the name of the operation (the ioctl's name such as
/// `KVM_CREATE_VM`, or `open`, `mmap`) and the `Errno` the kernel returned, so a caller can both
/// log a precise message and branch on the errno.
public enum KVMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case systemCall(operation: String, errno: Errno)
    /// `/dev/kvm` answered `KVM_GET_API_VERSION` with a version other than 12.
    case unsupportedAPIVersion(Int32)
    /// The host's KVM lacks a capability the operation needs.
    case capabilityMissing(KVMCapability)
    /// An argument was rejected before reaching the kernel (the message says which and why).
    case invalidArgument(String)
    /// `KVM_GET_MSRS` / `KVM_SET_MSRS` stopped at this MSR: KVM does not accept it.
    case msrNotAccepted(index: UInt32)
    /// The kernel left an exit in `kvm_run` that does not fit the mapping (the message says
    /// what); it is reported rather than read.
    case malformedExit(String)

    /// The KVM error for a failed host system call (the operation and errno carried over).
    public init(_ error: SystemCallError) {
        self = .systemCall(operation: error.operation, errno: error.errno)
    }

    /// The errno of a failed system call, if this error is one.
    public var errno: Errno? {
        if case .systemCall(_, let errno) = self { return errno }
        return nil
    }

    /// A one-line message: the operation and errno, the missing capability, or the message.
    public var description: String {
        switch self {
        case .systemCall(let operation, let errno):
            return "\(operation) failed: \(errno) (errno \(errno.rawValue))"
        case .unsupportedAPIVersion(let version):
            return "unsupported KVM API version \(version) (expected \(KVMSystem.expectedAPIVersion))"
        case .capabilityMissing(let cap):
            return "KVM capability \(cap) is not available on this host"
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        case .msrNotAccepted(let index):
            return "KVM does not accept MSR 0x\(String(index, radix: 16))"
        case .malformedExit(let message):
            return "malformed exit in kvm_run: \(message)"
        }
    }
}
