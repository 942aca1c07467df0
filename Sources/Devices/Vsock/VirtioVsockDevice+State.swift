/// The saved state of a ``VirtioVsockDevice``: its guest's context id. Connections are not
/// saved — their host sockets belong to the process that took the snapshot —, so a restored
/// device tells the guest its transport was reset (``VirtioVsockDevice/restoreState(_:)``).
public struct VirtioVsockState: Codable, Hashable, Sendable {
    /// The guest's context id.
    public var guestCID: UInt64

    /// A state for the guest `guestCID`.
    public init(guestCID: UInt64) {
        self.guestCID = guestCID
    }
}

/// Why a saved vsock state cannot be restored.
public enum VirtioVsockStateError: Error, Hashable, Sendable {
    /// The state is of another guest context id than this device's.
    case guestCIDMismatch(saved: UInt64, device: UInt64)
}

extension VirtioVsockDevice {
    /// Captures the device's state (take it with the vCPUs paused).
    public func saveState() -> VirtioVsockState {
        VirtioVsockState(guestCID: guestCID)
    }

    /// Restores a saved state into this (new) device after its transport's state was restored:
    /// `VIRTIO_VSOCK_EVENT_TRANSPORT_RESET` goes to the first event buffer the driver posted (or
    /// posts), after which the guest resets its connections and learns the context id again.
    ///
    /// - Throws: ``VirtioVsockStateError/guestCIDMismatch(saved:device:)`` when the state is
    ///   another guest's; nothing changes.
    public func restoreState(_ saved: VirtioVsockState) throws(VirtioVsockStateError) {
        guard saved.guestCID == guestCID else { throw .guestCIDMismatch(saved: saved.guestCID, device: guestCID) }
        signalTransportReset()
    }
}
