/// How long an ``EventLoop`` busy-polls its pollers before it sleeps in `epoll_wait`, adapted to
/// how soon work arrives — QEMU's iothread algorithm (`poll-max-ns`, `poll-grow`,
/// `poll-shrink`).
///
/// After every turn the loop reports how long it waited for work (`blockedFor`: polling plus
/// sleeping, from the start of the turn to the first event or successful poll):
/// - at most the current window: polling caught it, keep the window;
/// - longer than ``Parameters/maximumNanoseconds``: polling that long would not have caught it,
///   shrink (divide by ``Parameters/shrink``, or drop to 0 when it is 0);
/// - otherwise, below the maximum: a longer window would have caught it, grow (multiply by
///   ``Parameters/grow``, starting at ``Parameters/startNanoseconds``, capped at the maximum).
///
/// A pure value: feed it block times (real or synthetic) and read ``window``.
public struct AdaptivePolling: Sendable, Hashable {
    /// The tuning, QEMU's defaults unless changed.
    public struct Parameters: Sendable, Hashable, Codable {
        /// The longest window (QEMU's `poll-max-ns` for an iothread: 32768 ns).
        public var maximumNanoseconds: UInt64
        /// The factor a window grows by (QEMU's `poll-grow`; 0 means 2).
        public var grow: UInt64
        /// The divisor a window shrinks by (QEMU's `poll-shrink`; 0 drops it to 0 at once).
        public var shrink: UInt64
        /// The first non-zero window (QEMU starts at 4 µs).
        public var startNanoseconds: UInt64

        /// Parameters; QEMU's defaults are 32 768 ns, grow 2, shrink 0 (to zero), start 4 µs.
        public init(
            maximumNanoseconds: UInt64 = 32_768, grow: UInt64 = 2, shrink: UInt64 = 0, startNanoseconds: UInt64 = 4_000
        ) {
            self.maximumNanoseconds = maximumNanoseconds
            self.grow = grow
            self.shrink = shrink
            self.startNanoseconds = startNanoseconds
        }
    }

    /// The tuning.
    public let parameters: Parameters
    /// How long the loop polls before it sleeps, in nanoseconds.
    public private(set) var window: UInt64 = 0
    /// Times the window grew, and times it shrank.
    public private(set) var grown = 0, shrunk = 0

    /// Starts with no polling: the window grows once work comes back soon enough.
    public init(_ parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    /// Adjusts the window after a turn that waited `blockedFor` nanoseconds for work.
    public mutating func record(blockedFor: UInt64) {
        let maximum = parameters.maximumNanoseconds
        if blockedFor <= window {
            return  // polling caught it
        } else if blockedFor > maximum {
            guard window > 0 else { return }
            window = parameters.shrink == 0 ? 0 : window / parameters.shrink
            shrunk += 1
        } else if window < maximum {
            let grow = parameters.grow == 0 ? 2 : parameters.grow
            let (grownWindow, overflow) = window.multipliedReportingOverflow(by: grow)
            let next = window == 0 ? parameters.startNanoseconds : (overflow ? maximum : grownWindow)
            window = min(next, maximum)
            grown += 1
        }
    }
}

/// Whether and how an ``EventLoop`` polls before it sleeps.
public enum EventLoopPolling: Sendable, Hashable, Codable {
    /// Never: every notification wakes the loop from `epoll_wait`.
    case off
    /// Always for this many nanoseconds after a turn.
    case fixed(nanoseconds: UInt64)
    /// A window adapted to how soon work arrives (``AdaptivePolling``).
    case adaptive(AdaptivePolling.Parameters)

    /// Adaptive with QEMU's defaults.
    public static var adaptive: EventLoopPolling { .adaptive(AdaptivePolling.Parameters()) }
}
