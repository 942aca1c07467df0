import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Small facts about the host that regions need.
enum HostSystem {
    /// The host page size (`sysconf(_SC_PAGESIZE)`).
    static let pageSize: UInt64 = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))

    /// The size of an x86 huge page, the only one GuestMemory asks for.
    static let hugePageSize: UInt64 = 2 << 20

    /// The contents of a small sysfs/procfs file, or `nil` if it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec) else {
            return nil
        }
        defer { try? fd.close() }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = (try? bytes.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
        return String(decoding: bytes[..<n], as: UTF8.self)
    }

    /// The value of a `Key: N` line of `/proc/meminfo`.
    static func meminfo(_ key: String) -> UInt64? {
        guard let text = readSmallFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let digits = line.dropFirst(key.count + 1).filter { $0.isNumber }
            return UInt64(String(digits))
        }
        return nil
    }

    /// The selected mode of a transparent-huge-page sysfs setting (`[madvise]` → `madvise`).
    static func transparentHugePageMode(_ file: String) -> String? {
        guard let text = readSmallFile("/sys/kernel/mm/transparent_hugepage/" + file),
            let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close
        else { return nil }
        return String(text[text.index(after: open)..<close])
    }
}
