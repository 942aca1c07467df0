import Devices
import HostSupport
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The virtio console's way to standard output: the device writes into a pipe of its own
/// (non-blocking, so a slow terminal makes the guest's output wait in its ring, never a vCPU
/// block), and a thread copies the pipe to the VMM's standard output with ordinary blocking
/// writes — the VMM's own standard output is never switched to non-blocking mode, which its
/// parent shell shares. The thread ends when the device's end of the pipe closes; output to a
/// standard output that went away is discarded. ``drain(_:timeoutNanoseconds:)`` waits until
/// what the device wrote has been copied — so a VM that stops does not leave its last output in
/// the pipe of a process about to exit.
final class StandardOutputPump: Sendable {
    /// The device's end: the pipe's write end.
    let endpoint: FileDescriptorConsole
    /// Bytes taken from the pipe (copied, or discarded after standard output went away).
    private let progress: Progress

    final class Progress: Sendable {
        let copied = Atomic<UInt64>(0)
    }

    /// A pipe to `descriptor` (standard output by default) and the thread that empties it.
    init(to descriptor: Int32 = 1) throws {
        var fds: [Int32] = [-1, -1]
        try SystemCall.retrying("pipe") { pipe(&fds) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        do {
            endpoint = try FileDescriptorConsole(FileDescriptor(rawValue: fds[1]))
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])  // the endpoint holds its own duplicate
        let readEnd = fds[0]
        let progress = Progress()
        self.progress = progress
        do {
            try HostThread.spawn { Self.copy(from: readEnd, to: descriptor, progress: progress) }.detach()
        } catch {
            close(readEnd)
            throw error
        }
    }

    /// Copies until the pipe's writers are gone, then closes the read end.
    private static func copy(from source: Int32, to destination: Int32, progress: Progress) {
        defer { close(source) }
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var discarding = false
        while true {
            let n = buffer.withUnsafeMutableBytes { bytes in
                (try? SystemCall.retrying("pipe read") { read(source, bytes.baseAddress, bytes.count) }) ?? 0
            }
            guard n > 0 else { return }
            defer { progress.copied.add(UInt64(n), ordering: .releasing) }
            if discarding { continue }
            var done = 0
            while done < n {
                let written = buffer.withUnsafeBytes { bytes in
                    try? SystemCall.writeSome(
                        FileDescriptor(rawValue: destination),
                        UnsafeRawBufferPointer(rebasing: bytes[done..<n]), "standard output write")
                }
                guard let count = written, count > 0 else {
                    discarding = true  // standard output went away (or is broken): drain the pipe
                    break
                }
                done += count
            }
        }
    }

    /// Waits (at most `timeoutNanoseconds`) until `console` holds no output and everything it
    /// wrote into the pipe has been taken out of it.
    func drain(_ console: VirtioConsoleDevice, timeoutNanoseconds: UInt64) {
        let deadline = monotonicNanoseconds() + timeoutNanoseconds
        while monotonicNanoseconds() < deadline {
            let statistics = console.statistics
            if statistics.outputPending == 0 && progress.copied.load(ordering: .acquiring) >= statistics.bytesOutput {
                return
            }
            usleep(1000)
        }
    }
}
