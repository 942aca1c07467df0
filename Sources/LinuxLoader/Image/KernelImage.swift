import GuestMemory
import HostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A Linux kernel image for x86_64, of either kind a VMM boots: a bzImage (what distributions
/// ship as `vmlinuz`) or an ELF `vmlinux`.
public enum KernelImage: Sendable {
    /// A bzImage.
    case bzImage(BzImage)
    /// An ELF vmlinux.
    case elf(ElfKernel)

    /// The largest file taken as a kernel image (1 GiB: a vmlinux with debug information is a
    /// few hundred MiB).
    public static let maximumFileSize: UInt64 = 1 << 30

    /// Recognises and validates the kernel image in `bytes`: an ELF file by its magic, a bzImage
    /// by its boot flag and `HdrS`.
    ///
    /// - Throws: ``KernelImageError/unrecognized`` for anything else, or the error of the kind
    ///   recognised, naming the field at fault.
    public init(bytes: [UInt8]) throws(KernelImageError) {
        let reader = ByteReader(bytes: bytes)
        if ElfKernel.recognizes(reader) {
            self = .elf(try ElfKernel(bytes: bytes))
        } else if SetupHeader.recognizes(reader) {
            self = .bzImage(try BzImage(bytes: bytes))
        } else {
            throw .unrecognized
        }
    }

    /// Reads the file at `path` (at most ``maximumFileSize`` bytes) and recognises it as
    /// ``init(bytes:)`` does.
    public init(contentsOf path: String) throws(KernelImageError) {
        let bytes: [UInt8]
        var tooLarge: UInt64?
        do throws(SystemCallError) {
            let fd = try SystemCall.retrying("open \(path)") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
            let owned = OwnedDescriptor(rawValue: fd)
            var info = stat()
            _ = try SystemCall.retrying("fstat \(path)") { fstat(owned.raw.rawValue, &info) }
            let size = UInt64(max(info.st_size, 0))
            guard size <= Self.maximumFileSize else {
                tooLarge = size
                throw SystemCallError(operation: "fstat \(path)", errno: .fileTooLarge)
            }
            var buffer = [UInt8](repeating: 0, count: Int(size))
            var failure: SystemCallError?
            let read = buffer.withUnsafeMutableBytes { raw -> Int in
                do throws(SystemCallError) {
                    return try SystemCall.transferAll(raw.count, "read \(path)", zeroEndsTransfer: true) { done in
                        pread(owned.raw.rawValue, raw.baseAddress! + done, raw.count - done, off_t(done))
                    }
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw failure }
            bytes = Array(buffer.prefix(read))
        } catch {
            if let tooLarge { throw .tooLarge(path: path, size: tooLarge, limit: Self.maximumFileSize) }
            throw .io(path: path, error)
        }
        try self.init(bytes: bytes)
    }

    /// The kind of image.
    public var kind: KernelImageKind {
        switch self {
        case .bzImage: .bzImage
        case .elf: .elf
        }
    }

    /// Copies the kernel into guest memory (a bzImage at its preferred address, an ELF file's
    /// segments at their physical addresses) and returns where it went and how to enter it.
    public func load(into memory: some GuestMemoryAccess) throws(KernelImageError) -> LoadedKernel {
        switch self {
        case .bzImage(let image): try image.load(into: memory)
        case .elf(let image): try image.load(into: memory)
        }
    }
}
