/// The identity of a region inside a ``GuestMemoryMap``: a small integer that stays the same
/// for as long as the region is in the map (across hotplug of other regions).
///
/// It is shaped for KVM: a bridge can pass `rawValue` as the `slot` of
/// `KVM_SET_USER_MEMORY_REGION`, and KVM's dirty ring names pages by the same number, so
/// ``DirtyRingEntry/slot`` and the keys of ``ExternalDirtyLog/bitmaps`` are memory slots.
/// A map hands out the lowest free number, so slots stay far below KVM's `KVM_CAP_NR_MEMSLOTS`.
public struct MemorySlot: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The slot number.
    public var rawValue: UInt32

    /// Wraps a slot number.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Wraps a slot number.
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// Orders slots by number.
    public static func < (lhs: MemorySlot, rhs: MemorySlot) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `slot N`.
    public var description: String { "slot \(rawValue)" }
}
