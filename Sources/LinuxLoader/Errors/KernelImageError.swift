import GuestMemory
import HostSupport

/// Why a kernel image could not be read, understood or loaded.
///
/// Every size and offset a kernel image holds is checked against the file and against guest
/// memory before it is used; a malformed image gets one of these, naming the field at fault,
/// never a crash and never an allocation sized by the image.
public enum KernelImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read.
    case io(path: String, SystemCallError)
    /// The file is larger than any kernel this loader takes (``KernelImage/maximumFileSize``).
    case tooLarge(path: String, size: UInt64, limit: UInt64)
    /// Neither a bzImage (boot flag `0xAA55` and `HdrS`) nor a 64-bit x86 ELF file.
    case unrecognized
    /// `structure` needs `needed` bytes of the file, which has only `fileSize`.
    case truncated(structure: String, needed: UInt64, fileSize: UInt64)
    /// A header field holds a value this loader cannot use; `field` is its name in the boot
    /// protocol or ELF specification (`setup_sects`, `xloadflags`, `e_phoff`, `PT_LOAD[2].p_filesz` …).
    case invalidField(field: String, value: UInt64, reason: String)
    /// A valid image of a kind this loader does not run (a kernel without a 64-bit entry point,
    /// a boot protocol older than 2.12, an ELF file for another machine).
    case unsupported(String)
    /// `what` (`length` bytes at `address`) does not lie entirely in guest memory.
    case doesNotFit(what: String, address: UInt64, length: UInt64)

    /// A one-line English description naming the field, file or range at fault.
    public var description: String {
        switch self {
        case .io(let path, let error): "\(path): \(error)"
        case .tooLarge(let path, let size, let limit):
            "\(path): \(size) bytes is larger than a kernel image may be (\(limit) bytes)"
        case .unrecognized: "not a kernel image: neither a bzImage (boot flag and HdrS) nor a 64-bit x86 ELF file"
        case .truncated(let structure, let needed, let fileSize):
            "\(structure) needs \(needed) bytes, the file has \(fileSize)"
        case .invalidField(let field, let value, let reason):
            "\(field) = \(value) (0x\(String(value, radix: 16))): \(reason)"
        case .unsupported(let what): "unsupported kernel: \(what)"
        case .doesNotFit(let what, let address, let length):
            "\(what) (\(length) bytes at 0x\(String(address, radix: 16))) does not fit in guest memory"
        }
    }
}
