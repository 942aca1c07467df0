import HostSupport

/// Signals an interrupt to the guest: an eventfd (``HostSupport/EventFD``, registered with KVM
/// as an irqfd so the kernel injects it), or anything a test or an emulated interrupt
/// controller observes.
public protocol InterruptSignal: AnyObject, Sendable {
    /// Raises the interrupt once.
    func trigger()

    /// The eventfd behind this signal, when there is one: what a VMM registers with the
    /// hypervisor (an irqfd) so that ``trigger()`` injects the interrupt without a trip through
    /// user space. `nil` (the default) for a signal that lives only in user space.
    var eventFD: EventFD? { get }
}

extension InterruptSignal {
    /// No eventfd: the signal lives only in user space.
    public var eventFD: EventFD? { nil }
}
