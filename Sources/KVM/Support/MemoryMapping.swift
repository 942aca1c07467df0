import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A shared mapping of a KVM file descriptor (the `kvm_run` area, a dirty ring), unmapped
/// exactly once when its owner goes away.
struct MemoryMapping: ~Copyable, @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let size: Int

    /// Maps `size` bytes of `fd` at page `pageOffset`, shared, with the given protection.
    init(
        fd: FileDescriptor, size: Int, pageOffset: Int = 0, protection: Int32 = PROT_READ | PROT_WRITE,
        operation: String
    ) throws(KVMError) {
        let offset = off_t(pageOffset) * off_t(sysconf(Int32(_SC_PAGESIZE)))
        let address = mmap(nil, size, protection, MAP_SHARED, fd.rawValue, offset)
        guard let address, address != MAP_FAILED else {
            throw .systemCall(operation: operation, errno: Errno(rawValue: Glibc.errno))
        }
        self.base = address
        self.size = size
    }

    deinit { munmap(base, size) }
}

/// The host's page size in bytes.
let hostPageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
