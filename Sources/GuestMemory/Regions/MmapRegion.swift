import CGuestMemory
import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A guest memory region backed by an `mmap(2)` mapping: anonymous, file-backed or memfd,
/// optionally with huge pages, `MAP_NORESERVE`, guard pages and read-only protection.
///
/// The mapping (and the region's own file descriptor, if any) is released exactly once, when
/// the last reference goes away; a ``GuestMemoryMap`` holds its regions, so memory stays
/// mapped while any reader still uses a map that contains it.
public final class MmapRegion: GuestMemoryRegion, @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; the mapped bytes are shared
    // memory by design and are accessed through GuestMemoryAccess (atomics or memcpy).

    /// The first guest physical address of the region.
    public let guestBase: GuestAddress
    /// The size of the region in bytes (a multiple of the host page size).
    public let size: UInt64
    /// The host address of the region's first byte (after the leading guard pages).
    public let hostBase: UnsafeMutableRawPointer
    /// Whether the region is mapped `PROT_READ` only.
    public let isReadOnly: Bool
    /// The dirty-page bitmap, when created with ``MmapRegionOptions/trackDirtyPages``.
    public let dirtyBitmap: DirtyBitmap?
    /// The options the region was created with.
    public let options: MmapRegionOptions
    /// The number of bytes of `PROT_NONE` guard before and after the region.
    public let guardBytes: UInt64

    private let descriptor: FileDescriptor?
    private let fileOffset: Int64
    private let mappingStart: UnsafeMutableRawPointer
    private let mappingLength: Int

    /// The region's own file descriptor (a duplicate for `.file`, the memfd for `.memfd`)
    /// and the file offset of the first byte; `nil` for anonymous memory.
    public var fileBacking: (descriptor: FileDescriptor, offset: Int64)? {
        descriptor.map { ($0, fileOffset) }
    }

    /// Maps a region of `size` bytes that the guest sees at `guestBase`.
    ///
    /// - Throws: ``GuestMemoryError/invalidRegion(_:)`` for a zero or unaligned size or base,
    ///   an unaligned file offset or an impossible combination of options;
    ///   ``GuestMemoryError/hugePagesUnavailable(_:)`` when huge pages were requested and the
    ///   host has none; ``GuestMemoryError/system(_:_:)`` when a system call fails.
    public init(guestBase: GuestAddress, size: UInt64, options: MmapRegionOptions = .init())
        throws(GuestMemoryError)
    {
        let page = HostSystem.pageSize
        guard size > 0, size % page == 0, size <= UInt64(Int.max / 2) else {
            throw .invalidRegion("size \(size) must be a non-zero multiple of the \(page)-byte host page")
        }
        guard guestBase.isAligned(to: page) else {
            throw .invalidRegion("guest base \(guestBase) must be aligned to the \(page)-byte host page")
        }
        _ = try GuestAddressRange(start: guestBase, count: size)
        guard options.guardPages >= 0, options.guardPages <= 1 << 20 else {
            throw .invalidRegion("guard page count \(options.guardPages) is out of range")
        }
        if options.hugePages == .hugetlb {
            guard size % HostSystem.hugePageSize == 0 else {
                throw .invalidRegion("hugetlb regions must be a multiple of 2 MiB, got \(size) bytes")
            }
            guard !options.noReserve else {
                throw .invalidRegion("hugetlb with MAP_NORESERVE would SIGBUS when the pool runs out")
            }
        }

        var flags: Int32 = 0
        var ownedFD: FileDescriptor?
        var offset: Int64 = 0
        var shared = false
        switch options.backing {
        case .anonymous(let s):
            shared = s
            flags = MAP_ANONYMOUS
            if options.hugePages == .hugetlb { flags |= MAP_HUGETLB }
        case .file(let fd, let o, let s):
            guard o >= 0, UInt64(o) % page == 0 else {
                throw .invalidRegion("file offset \(o) must be a non-negative multiple of the host page")
            }
            guard options.hugePages != .hugetlb else {
                throw .invalidRegion("hugetlb applies to anonymous or memfd backing; map a hugetlbfs file instead")
            }
            // Touching a mapped page past the end of a regular file raises SIGBUS, so the file
            // must cover the whole region (it must not be truncated while mapped, either).
            var st = stat()
            guard fstat(fd.rawValue, &st) == 0 else { throw .system("fstat", SystemCall.errno) }
            if (st.st_mode & S_IFMT) == S_IFREG, UInt64(max(st.st_size, 0)) < UInt64(o) + size {
                throw .invalidRegion("file of \(st.st_size) bytes does not cover \(size) bytes at offset \(o)")
            }
            let dup = fcntl(fd.rawValue, F_DUPFD_CLOEXEC, 0)
            guard dup >= 0 else { throw .system("fcntl(F_DUPFD_CLOEXEC)", SystemCall.errno) }
            ownedFD = FileDescriptor(rawValue: dup)
            offset = o
            shared = s
        case .memfd(let name):
            var mfdFlags = UInt32(CGM_MFD_CLOEXEC)
            if options.hugePages == .hugetlb { mfdFlags |= UInt32(CGM_MFD_HUGETLB) }
            let fd = cgm_memfd_create(name, mfdFlags)
            guard fd >= 0 else {
                throw options.hugePages == .hugetlb
                    ? MmapRegion.hugetlbError(SystemCall.errno)
                    : .system("memfd_create", SystemCall.errno)
            }
            ownedFD = FileDescriptor(rawValue: fd)
            guard ftruncate(fd, off_t(size)) == 0 else {
                let e = SystemCall.errno
                close(fd)
                throw options.hugePages == .hugetlb ? MmapRegion.hugetlbError(e) : .system("ftruncate", e)
            }
            shared = true
        }
        flags |= shared ? MAP_SHARED : MAP_PRIVATE
        if options.noReserve { flags |= MAP_NORESERVE }
        let prot = options.readOnly ? PROT_READ : PROT_READ | PROT_WRITE
        let rawFD = ownedFD?.rawValue ?? -1

        if options.hugePages == .transparent {
            if let error = MmapRegion.transparentHugePageProblem(shared: shared) {
                if let ownedFD { try? ownedFD.close() }
                throw error
            }
        }

        let guardBytes = UInt64(options.guardPages) * page
        let alignment = options.hugePages == .none ? page : HostSystem.hugePageSize
        let placed: (data: UnsafeMutableRawPointer, start: UnsafeMutableRawPointer, length: Int)
        do throws(GuestMemoryError) {
            placed = try MmapRegion.map(
                size: size, guardBytes: guardBytes, alignment: alignment,
                prot: prot, flags: flags, fd: rawFD, offset: offset,
                hugetlb: options.hugePages == .hugetlb)
        } catch {
            if let ownedFD { try? ownedFD.close() }
            throw error
        }

        if options.hugePages == .transparent, madvise(placed.data, Int(size), MADV_HUGEPAGE) != 0 {
            let e = SystemCall.errno
            munmap(placed.start, placed.length)
            if let ownedFD { try? ownedFD.close() }
            throw .hugePagesUnavailable("madvise(MADV_HUGEPAGE) failed: \(e)")
        }

        self.guestBase = guestBase
        self.size = size
        self.hostBase = placed.data
        self.isReadOnly = options.readOnly
        self.dirtyBitmap = options.trackDirtyPages ? DirtyBitmap(byteCount: size) : nil
        self.options = options
        self.guardBytes = guardBytes
        self.descriptor = ownedFD
        self.fileOffset = offset
        self.mappingStart = placed.start
        self.mappingLength = placed.length
    }

    deinit {
        munmap(mappingStart, mappingLength)
        if let descriptor { try? descriptor.close() }
    }

    /// Maps `size` bytes, surrounded by `guardBytes` of `PROT_NONE` on each side and aligned to
    /// `alignment`, by reserving the whole span first and mapping the data over its middle.
    private static func map(
        size: UInt64, guardBytes: UInt64, alignment: UInt64,
        prot: Int32, flags: Int32, fd: Int32, offset: Int64, hugetlb: Bool
    ) throws(GuestMemoryError) -> (data: UnsafeMutableRawPointer, start: UnsafeMutableRawPointer, length: Int) {
        func failure(_ call: String) -> GuestMemoryError {
            let e = SystemCall.errno
            return hugetlb ? hugetlbError(e) : .system(call, e)
        }
        if guardBytes == 0 && alignment == HostSystem.pageSize {
            let p = mmap(nil, Int(size), prot, flags, fd, off_t(offset))
            guard let p, p != MAP_FAILED else { throw failure("mmap") }
            return (p, p, Int(size))
        }
        let total = Int(size + 2 * guardBytes + (alignment - HostSystem.pageSize))
        let reservation = mmap(nil, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let reservation, reservation != MAP_FAILED else { throw .system("mmap(reserve)", SystemCall.errno) }
        let base = UInt(bitPattern: reservation)
        let dataAddress = (base + UInt(guardBytes) + UInt(alignment - 1)) & ~UInt(alignment - 1)
        let data = UnsafeMutableRawPointer(bitPattern: dataAddress).unsafelyUnwrapped
        let mapped = mmap(data, Int(size), prot, flags | MAP_FIXED, fd, off_t(offset))
        guard let mapped, mapped != MAP_FAILED else {
            let error = failure("mmap")
            munmap(reservation, total)
            throw error
        }
        // Give back the reservation outside [data - guard, data + size + guard).
        let start = dataAddress - UInt(guardBytes)
        let end = dataAddress + UInt(size) + UInt(guardBytes)
        if start > base { munmap(reservation, Int(start - base)) }
        if base + UInt(total) > end {
            munmap(UnsafeMutableRawPointer(bitPattern: end), Int(base + UInt(total) - end))
        }
        return (data, UnsafeMutableRawPointer(bitPattern: start).unsafelyUnwrapped, Int(end - start))
    }

    private static func hugetlbError(_ errno: Errno) -> GuestMemoryError {
        let free = HostSystem.meminfo("HugePages_Free").map(String.init) ?? "unknown"
        return .hugePagesUnavailable(
            "no 2 MiB huge pages could be allocated (\(errno)); HugePages_Free in /proc/meminfo is "
                + "\(free) — reserve pages with `sysctl vm.nr_hugepages=N`")
    }

    /// Why transparent huge pages cannot be used for this mapping, or `nil` when they can.
    private static func transparentHugePageProblem(shared: Bool) -> GuestMemoryError? {
        let file = shared ? "shmem_enabled" : "enabled"
        guard let mode = HostSystem.transparentHugePageMode(file) else {
            return .hugePagesUnavailable(
                "the kernel has no transparent huge pages (/sys/kernel/mm/transparent_hugepage/\(file) missing)")
        }
        if mode == "never" || mode == "deny" {
            return .hugePagesUnavailable(
                "transparent huge pages are disabled (/sys/kernel/mm/transparent_hugepage/\(file) is [\(mode)])")
        }
        return nil
    }
}
