import HostSupport

/// An eventfd as the interrupt of a device: registered with KVM as an irqfd
/// (`KVMVirtualMachine.registerIRQFD(_:gsi:resample:)`), each signal injects the GSI in the
/// kernel; without KVM, a test reads the counter.
extension EventFD: InterruptSignal {
    /// Adds one to the counter.
    public func trigger() {
        // An eventfd write fails only when the counter would overflow (2^64 − 2 signals
        // unread): the interrupt is pending then anyway.
        _ = try? signal(1)
    }

    /// This eventfd itself.
    public var eventFD: EventFD? { self }
}
