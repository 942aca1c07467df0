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
/// - Parameters:
///   - destination: the path the new file takes.
///   - mapError: how a failure of this helper's own system calls is reported.
///   - body: fills the file at the temporary path it is given (opening it without truncating
///     anything else) and returns the result.
/// - Returns: what `body` returned.
public func writeNewFile<Result, Failure: Error>(
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

/// `fsync`s the file (or directory) at `path`.
private func syncFile(_ path: String, directory: Bool = false) throws(BlockDeviceError) {
    let fd = OwnedDescriptor(
        rawValue: try systemCall("open \(path)") {
            Glibc.open(path, (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC)
        })
    try systemCall("fsync \(path)") { fsync(fd.raw.rawValue) }
}
