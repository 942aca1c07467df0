import KVM

/// An eventfd as the interrupt of a device: registered with ``KVM/KVMVirtualMachine/registerIRQFD(_:gsi:resample:)``,
/// each signal injects the GSI in the kernel; without KVM, a test reads the counter.
extension EventFD: InterruptSignal {
    public func trigger() {
        // An eventfd write fails only when the counter would overflow (2^64 − 2 signals
        // unread): the interrupt is pending then anyway.
        _ = try? signal(1)
    }
}
