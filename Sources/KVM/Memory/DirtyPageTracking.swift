/// How a ``GuestMemoryBridge`` tracks the pages the guest writes.
///
/// The bridge registers every writable region with `KVM_MEM_LOG_DIRTY_PAGES` unless tracking is
/// ``off``. Turning the matching KVM capability on is the caller's job, before the bridge
/// registers anything: ``KVMVirtualMachine/enableManualDirtyLogProtection(initiallySet:)`` for
/// `.bitmap(manualProtection: true)`, ``KVMVirtualMachine/enableDirtyRing(bytes:)`` (before
/// the first vCPU) for ``ring``. KVM cannot be asked which of them is on, so the mode given
/// here must match.
public enum DirtyPageTracking: Hashable, Sendable, CustomStringConvertible {
    /// Guest writes are not tracked; dirty pages come from the regions' own bitmaps only.
    case off
    /// KVM's per-slot dirty bitmap (`KVM_GET_DIRTY_LOG`). With `manualProtection`
    /// (`KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2` enabled), reading does not clear the log, and the
    /// bridge clears exactly the pages it collected with `KVM_CLEAR_DIRTY_LOG`.
    case bitmap(manualProtection: Bool)
    /// The vCPUs' dirty rings (`KVM_CAP_DIRTY_LOG_RING`): harvested, then reset with
    /// `KVM_RESET_DIRTY_RINGS`.
    case ring

    /// Whether slots are registered with `KVM_MEM_LOG_DIRTY_PAGES`.
    public var logsGuestWrites: Bool { self != .off }

    /// `off`, `bitmap`, `bitmap (manual protection)` or `ring`.
    public var description: String {
        switch self {
        case .off: return "off"
        case .bitmap(let manual): return manual ? "bitmap (manual protection)" : "bitmap"
        case .ring: return "ring"
        }
    }
}
