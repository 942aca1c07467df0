// Waiting for something another thread does, without ever hanging a test run.
import Foundation
import Testing

/// A condition a test waited for did not come true in time.
public struct WaitTimeout: Error, CustomStringConvertible {
    public let description: String
}

/// Polls `condition` (every `interval`) until it holds, or throws ``WaitTimeout`` naming `what`
/// after `seconds`. The bound is a hang guard, never a timing check: pick it far above what the
/// wait needs on a loaded machine (the default, 30 s, is thousands of times the usual wait), so
/// that it only turns a hang into a failure with a message.
public func waitUntil(
    _ what: @autoclosure () -> String, seconds: Double = 30, interval: useconds_t = 1000, _ condition: () -> Bool
) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() >= deadline { throw WaitTimeout(description: "timed out after \(seconds) s waiting for \(what())") }
        if interval == 0 { sched_yield() } else { usleep(interval) }
    }
}

/// Runs `body` when `available`; otherwise prints that this run skipped `what` and why (a
/// host without a KVM capability, say), so that a skip is never silent. The rest of the test
/// runs either way.
public func whenAvailable(
    _ available: Bool, _ what: String, missing reason: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) rethrows {
    if available { return try body() }
    print("note: skipped \(what) at \(sourceLocation): \(reason)")
}
