import Glibc
import HostSupport

// README snippet: HostSupport
func readmeSnippetHostSupport() throws {
    let doorbell = try EventFD()
    let waiter = try HostThread.spawn {
        _ = try? doorbell.wait(timeoutMilliseconds: 1000)  // until the counter is non-zero
    }
    try doorbell.signal()
    waiter.join()
    var count: UInt64 = 0  // a raw read(2): EINTR retried, any other failure a typed SystemCallError
    try SystemCall.retrying("eventfd read") { read(doorbell.fileDescriptor.rawValue, &count, 8) }
    print(count)  // 1
}
