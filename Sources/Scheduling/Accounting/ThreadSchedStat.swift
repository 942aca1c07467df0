#if canImport(Glibc)
    import Glibc
#endif

/// The kernel's view of one thread's scheduling, from `/proc/self/task/<tid>/schedstat`:
/// time on a CPU, time waiting on a run queue, and the number of timeslices run. A real
/// dispatcher reads it for each worker thread to compare with its own accounting.
public struct ThreadSchedStat: Sendable, Equatable {
    /// Time spent on a CPU (ns).
    public var onCPU: Nanoseconds
    /// Time spent runnable on a run queue, waiting (ns).
    public var runQueueWait: Nanoseconds
    /// Number of timeslices run on a CPU.
    public var timeslices: UInt64

    /// Figures as read from the file.
    public init(onCPU: Nanoseconds, runQueueWait: Nanoseconds, timeslices: UInt64) {
        self.onCPU = onCPU
        self.runQueueWait = runQueueWait
        self.timeslices = timeslices
    }

    /// Errors reading or parsing the file.
    public enum ReadError: Error, Equatable, Sendable {
        /// The file could not be opened or read (errno); for example the thread exited or the
        /// kernel lacks `CONFIG_SCHEDSTATS`/`CONFIG_SCHED_INFO`.
        case unreadable(path: String, errno: Int32)
        /// The contents are not three unsigned decimal numbers.
        case malformed(String)
    }

    /// Reads the calling thread's statistics (`/proc/thread-self/schedstat`).
    public static func current() throws(ReadError) -> ThreadSchedStat {
        try read(path: "/proc/thread-self/schedstat")
    }

    /// Reads the statistics of thread `threadID` of this process
    /// (`/proc/self/task/<tid>/schedstat`).
    public static func read(threadID: Int32) throws(ReadError) -> ThreadSchedStat {
        try read(path: "/proc/self/task/\(threadID)/schedstat")
    }

    private static func read(path: String) throws(ReadError) -> ThreadSchedStat {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw .unreadable(path: path, errno: errno) }
        return try parse(String(decoding: buffer[..<count], as: UTF8.self))
    }

    /// Parses the file's contents: `"<on-CPU ns> <wait ns> <timeslices>\n"`.
    public static func parse(_ text: String) throws(ReadError) -> ThreadSchedStat {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 3, let onCPU = UInt64(fields[0]), let wait = UInt64(fields[1]),
            let slices = UInt64(fields[2])
        else { throw .malformed(text) }
        return ThreadSchedStat(onCPU: onCPU, runQueueWait: wait, timeslices: slices)
    }
}
