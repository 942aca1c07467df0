#if canImport(Glibc)
    import Glibc
#endif

/// The host CPUs a thread may run on (`sched_getaffinity` / `sched_setaffinity`), for pinning a
/// dispatcher's worker threads. Covers CPUs 0...1023 (glibc's `cpu_set_t`).
public struct CPUAffinity: Sendable, Equatable {
    /// The CPU numbers, ascending, without duplicates.
    public let cpus: [Int]

    /// Errors of the affinity calls.
    public enum AffinityError: Error, Equatable, Sendable {
        /// A CPU number outside 0...1023, or an empty set.
        case invalidCPUs([Int])
        /// The system call failed with this errno (for example `EINVAL` when none of the CPUs is
        /// online or allowed by the thread's cpuset).
        case systemCall(operation: String, errno: Int32)
    }

    /// Largest CPU number representable.
    public static let maximumCPU = 1023

    /// A set of CPUs; throws when it is empty or a number is out of range.
    public init(cpus: [Int]) throws(AffinityError) {
        guard !cpus.isEmpty, cpus.allSatisfy({ (0...Self.maximumCPU).contains($0) }) else {
            throw .invalidCPUs(cpus)
        }
        self.cpus = Array(Set(cpus)).sorted()
    }

    /// The calling thread's affinity.
    public static func currentThread() throws(AffinityError) -> CPUAffinity {
        var set = cpu_set_t()
        guard let call = affinityCall("sched_getaffinity"), call(0, MemoryLayout<cpu_set_t>.size, &set) == 0 else {
            throw .systemCall(operation: "sched_getaffinity", errno: errno)
        }
        var cpus: [Int] = []
        withUnsafeBytes(of: &set) { bytes in
            for (i, byte) in bytes.enumerated() where byte != 0 {
                for bit in 0..<8 where byte & (1 << bit) != 0 { cpus.append(i * 8 + bit) }
            }
        }
        return try CPUAffinity(cpus: cpus)
    }

    /// Restricts the calling thread to these CPUs.
    public func applyToCurrentThread() throws(AffinityError) {
        try apply(toThread: 0)
    }

    /// Restricts thread `threadID` of this process (a kernel thread id; 0 is the calling
    /// thread) to these CPUs.
    public func apply(toThread threadID: Int32) throws(AffinityError) {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { bytes in
            for cpu in cpus { bytes[cpu / 8] |= UInt8(1 << (cpu % 8)) }
        }
        guard let call = affinityCall("sched_setaffinity"), call(threadID, MemoryLayout<cpu_set_t>.size, &set) == 0
        else {
            throw .systemCall(operation: "sched_setaffinity", errno: errno)
        }
    }
}

/// `int sched_{get,set}affinity(pid_t, size_t, cpu_set_t *)`, looked up in the C library at
/// run time: glibc declares them only under `_GNU_SOURCE`, which the Glibc module is not built
/// with. `nil` (reported as `ENOSYS`) if the symbol is missing.
private func affinityCall(_ name: String) -> (@convention(c) (pid_t, Int, UnsafeMutablePointer<cpu_set_t>) -> Int32)? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
        errno = ENOSYS
        return nil
    }
    return unsafeBitCast(
        symbol, to: (@convention(c) (pid_t, Int, UnsafeMutablePointer<cpu_set_t>) -> Int32).self)
}
