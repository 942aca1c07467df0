import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a system call through HostSupport's one retrying helper (`EINTR` retried) and maps
/// a failure to `KVMError.systemCall` named `name`.
@inline(__always)
@discardableResult
func retryingSystemCall(_ name: @autoclosure () -> String, _ call: () -> Int32) throws(KVMError) -> Int32 {
    do {
        return try SystemCall.retrying(name(), call)
    } catch {
        throw KVMError(error)
    }
}

/// Issues `ioctl(fd, request, pointer)`.
@inline(__always)
@discardableResult
func kvmIoctl(
    _ fd: FileDescriptor, _ request: UInt, _ argument: UnsafeMutableRawPointer?, _ name: @autoclosure () -> String
) throws(KVMError) -> Int32 {
    try retryingSystemCall(name()) { ckvm_ioctl_ptr(fd.rawValue, request, argument) }
}

/// Issues `ioctl(fd, request, value)` with an integer argument.
@inline(__always)
@discardableResult
func kvmIoctl(
    _ fd: FileDescriptor, _ request: UInt, value: UInt, _ name: @autoclosure () -> String
) throws(KVMError) -> Int32 {
    try retryingSystemCall(name()) { ckvm_ioctl_val(fd.rawValue, request, value) }
}

/// Passes a pointer to `value` to an ioctl that reads it (`_IOW`).
@inline(__always)
@discardableResult
func kvmIoctl<T>(
    _ fd: FileDescriptor, _ request: UInt, input value: T, _ name: @autoclosure () -> String
) throws(KVMError) -> Int32 {
    var copy = value
    return try withUnsafeMutableBytes(of: &copy) { (buffer) throws(KVMError) -> Int32 in
        try kvmIoctl(fd, request, buffer.baseAddress, name())
    }
}

/// Calls an ioctl that fills a `T` (`_IOR`) and returns it.
@inline(__always)
func kvmIoctl<T>(
    _ fd: FileDescriptor, _ request: UInt, output: T.Type, initial: T, _ name: @autoclosure () -> String
) throws(KVMError) -> T {
    var value = initial
    try withUnsafeMutableBytes(of: &value) { (buffer) throws(KVMError) in
        _ = try kvmIoctl(fd, request, buffer.baseAddress, name())
    }
    return value
}

/// Calls an ioctl that reads and writes a `T` in place (`_IOWR`).
@inline(__always)
func kvmIoctl<T>(
    _ fd: FileDescriptor, _ request: UInt, inOut value: inout T, _ name: @autoclosure () -> String
) throws(KVMError) {
    try withUnsafeMutableBytes(of: &value) { (buffer) throws(KVMError) in
        _ = try kvmIoctl(fd, request, buffer.baseAddress, name())
    }
}

/// Zero-initialised value of a C structure (generic code cannot call the imported `init()`).
@inline(__always)
func zeroed<T>(_ type: T.Type = T.self) -> T {
    withUnsafeTemporaryAllocation(
        byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment
    ) { raw in
        raw.initializeMemory(as: UInt8.self, repeating: 0)
        return raw.load(as: T.self)
    }
}
