import GuestMemory
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

let page = DirtyBitmap.pageSize

/// An unlinked temporary file, closed on deinit.
final class TemporaryFile {
    let descriptor: FileDescriptor
    init() throws {
        var template = Array("/tmp/guest-memory-test-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        descriptor = FileDescriptor(rawValue: fd)
    }
    deinit { try? descriptor.close() }

    func write(_ bytes: [UInt8], at offset: Int64 = 0) throws {
        _ = try bytes.withUnsafeBytes { try descriptor.writeAll(toAbsoluteOffset: offset, $0) }
    }

    func read(count: Int, at offset: Int64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: offset, into: $0) }
        return Array(bytes[..<n])
    }
}

/// Runs `child` in a forked process and returns how it ended: `.exited(code)` or
/// `.signaled(signal)`. `child` must only touch memory and call async-signal-safe functions.
enum ChildOutcome: Equatable {
    case exited(Int32)
    case signaled(Int32)
}

func runInChild(_ child: () -> Void) -> ChildOutcome {
    let pid = fork()
    if pid == 0 {
        // Default actions, so a fault kills the child instead of running a crash handler.
        signal(SIGSEGV, SIG_DFL)
        signal(SIGBUS, SIG_DFL)
        child()
        _exit(0)
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signalNumber = status & 0x7f
    return signalNumber == 0 ? .exited((status >> 8) & 0xff) : .signaled(signalNumber)
}

/// Random bytes from `rng`.
func randomBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// An anonymous region, failing the test on error.
func makeRegion(_ base: UInt64, pages: UInt64, _ options: MmapRegionOptions = .init()) throws -> MmapRegion {
    try MmapRegion(guestBase: GuestAddress(base), size: pages * page, options: options)
}

/// Reads a byte in a way the compiler cannot drop: the value decides the exit status.
func readByte(_ p: UnsafePointer<UInt8>) {
    if p.pointee == 0xA5 { _exit(42) }
}

/// The contents of a small procfs/sysfs file, or "" when it cannot be read.
func readSmallFile(_ path: String) -> String {
    guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly) else { return "" }
    defer { try? fd.close() }
    var bytes = [UInt8](repeating: 0, count: 16384)
    let n = (try? bytes.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
    return String(decoding: bytes[..<n], as: UTF8.self)
}

/// The number in a `Key: N` line of `/proc/meminfo`.
func meminfo(_ key: String) -> UInt64? {
    readSmallFile("/proc/meminfo").split(separator: "\n").first { $0.hasPrefix(key + ":") }
        .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } }
}
