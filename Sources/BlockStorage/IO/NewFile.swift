import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a new file so that it appears only complete: `body` fills a temporary file beside
/// `destination` (same directory, so the final rename is atomic), which is then synced and
/// renamed over `destination`, and the directory is synced.
///
/// If `body` throws, or syncing or renaming fails, the temporary file is removed and whatever
/// was at `destination` (an older file, or nothing) is left exactly as it was. The temporary
/// file is created with `O_EXCL` and mode 0644 (less the umask), named
/// `.<destination's name>.<random>.tmp`.
///
/// A regular file already at `destination` is locked as a writer would lock it
/// (``ImageLocking``) before anything is written, and held until it has been replaced: a file
/// in use — a running VM's disk, an image `qemu-img` is writing — is never replaced under its
/// user (``BlockDeviceError/locked(_:)``). A symbolic link at `destination` is replaced itself,
/// not its target, so nothing is locked for it; nor for a file this process may not read.
///
/// - Parameters:
///   - destination: the path the new file takes.
///   - locking: `.off` to replace an existing file without looking at its locks.
///   - mapError: how a failure of this helper's own system calls is reported.
///   - body: fills the file at the temporary path it is given (opening it without truncating
///     anything else) and returns the result.
/// - Returns: what `body` returned.
public func writeNewFile<Result, Failure: Error>(
    at destination: String, locking: ImageLocking = .automatic, mapError: (BlockDeviceError) -> Failure,
    _ body: (_ temporaryPath: String) throws(Failure) -> Result
) throws(Failure) -> Result {
    // Held (and so the old file's locks) until the function returns, after the rename.
    let existing: OwnedDescriptor?
    do throws(BlockDeviceError) {
        existing = try lockExistingFile(at: destination, locking: locking)
    } catch {
        throw mapError(error)
    }
    return try withExtendedLifetime(existing) { () throws(Failure) -> Result in
        try replaceFile(at: destination, mapError: mapError, body)
    }
}

/// ``writeNewFile(at:locking:mapError:_:)`` once the old file is locked.
private func replaceFile<Result, Failure: Error>(
    at destination: String, mapError: (BlockDeviceError) -> Failure,
    _ body: (_ temporaryPath: String) throws(Failure) -> Result
) throws(Failure) -> Result {
    let directory = directoryName(destination)
    let name =
        destination.lastIndex(of: "/").map { String(destination[destination.index(after: $0)...]) } ?? destination
    var temporary = ""
    do throws(BlockDeviceError) {
        while true {
            temporary = directory + "/." + name + "." + String(UInt32.random(in: .min ... .max), radix: 16) + ".tmp"
            let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 {
                Glibc.close(fd)
                break
            }
            let error = SystemCall.errno
            if error != .fileExists && error != .interrupted {
                throw BlockDeviceError.io(operation: "create a temporary file beside \(destination)", errno: error)
            }
        }
    } catch {
        throw mapError(error)
    }
    let result: Result
    do {
        result = try body(temporary)
    } catch {
        unlink(temporary)
        throw error
    }
    do throws(BlockDeviceError) {
        try syncFile(temporary)
        try systemCall("rename \(temporary) to \(destination)") { rename(temporary, destination) }
    } catch {
        unlink(temporary)
        throw mapError(error)
    }
    // The new name is in place; making the directory entry durable can still fail (an I/O
    // error), which is reported, but the file is complete either way.
    do throws(BlockDeviceError) {
        try syncFile(directory, directory: true)
    } catch {
        throw mapError(error)
    }
    return result
}

/// The directory part of `path`: `.` for a bare name, `/` for a file in the root (the
/// package's one copy, for new files, parent locators and the tools).
package func directoryName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let directory = String(path[..<slash])
    return directory.isEmpty ? "/" : directory
}

/// Opens the regular file at `path` (read-only, not following a final symbolic link) and locks
/// it as a writer would, or returns nil when there is none to lock (nothing there, a symbolic
/// link, a special file, no permission to read it, or `locking` is `.off`).
private func lockExistingFile(at path: String, locking: ImageLocking) throws(BlockDeviceError) -> OwnedDescriptor? {
    guard let request = ImageLockRequest(readOnly: false, locking: locking) else { return nil }
    let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    let descriptor = OwnedDescriptor(rawValue: fd)
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    try request.apply(to: descriptor.raw, path: path)
    return descriptor
}

/// `fsync`s the file (or directory) at `path`.
private func syncFile(_ path: String, directory: Bool = false) throws(BlockDeviceError) {
    let fd = OwnedDescriptor(
        rawValue: try systemCall("open \(path)") {
            Glibc.open(path, (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC)
        })
    try systemCall("fsync \(path)") { fsync(fd.raw.rawValue) }
}
