import Synchronization

/// A half-open range of bus addresses, `[base, base + size)`.
public struct BusRange: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the range.
    public let base: UInt64
    /// The number of addresses in the range (at least 1).
    public let size: UInt64

    /// The range of `size` addresses from `base`.
    ///
    /// - Returns: `nil` when `size` is zero or the range wraps past 2^64.
    public init?(base: UInt64, size: UInt64) {
        guard size > 0, base <= UInt64.max - (size - 1) else { return nil }
        self.base = base
        self.size = size
    }

    /// The last address inside the range.
    public var last: UInt64 { base + (size - 1) }

    /// Whether `address` lies in the range.
    public func contains(_ address: UInt64) -> Bool { address >= base && address <= last }

    /// Whether the two ranges share at least one address.
    public func overlaps(_ other: BusRange) -> Bool { base <= other.last && other.base <= last }

    /// The range as its first and last address in hexadecimal, `[0x3f8, 0x3ff]`.
    public var description: String { "[0x\(String(base, radix: 16)), 0x\(String(last, radix: 16))]" }
}

/// Errors of bus registration.
public enum BusError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The range is empty or wraps around.
    case invalidRange(base: UInt64, size: UInt64)
    /// The range overlaps a device already on the bus.
    case overlap(BusRange, existing: BusRange)
    /// No device starts at this base.
    case notFound(base: UInt64)

    /// A one-line message naming the range or base.
    public var description: String {
        switch self {
        case .invalidRange(let base, let size): "invalid bus range: base 0x\(String(base, radix: 16)), size \(size)"
        case .overlap(let new, let existing): "bus range \(new) overlaps \(existing)"
        case .notFound(let base): "no device at 0x\(String(base, radix: 16))"
        }
    }
}

/// Maps address ranges to devices: overlapping ranges are rejected, lookup is a binary search
/// (O(log n)) over ranges sorted by base.
///
/// Devices can be added and removed while vCPUs run: the table is an immutable sorted array
/// swapped under a lock, and a lookup holds the lock only to take a reference to it.
public final class DeviceBus<Device: Sendable>: Sendable {
    /// A device and the range it was inserted at.
    public struct Entry: Sendable {
        /// The addresses the device answers.
        public let range: BusRange
        /// The device.
        public let device: Device
    }

    private let table = Mutex<[Entry]>([])

    /// An empty bus.
    public init() {}

    /// Puts `device` at `[base, base + size)`.
    ///
    /// - Throws: ``BusError/invalidRange(base:size:)`` when `size` is zero or the range wraps,
    ///   ``BusError/overlap(_:existing:)`` when it overlaps a device already on the bus.
    public func insert(_ device: Device, base: UInt64, size: UInt64) throws(BusError) {
        guard let range = BusRange(base: base, size: size) else { throw .invalidRange(base: base, size: size) }
        try table.withLock { (entries) throws(BusError) in
            let index = Self.insertionIndex(entries, base: range.base)
            // Only the neighbours can overlap a range in a sorted, non-overlapping table.
            for neighbour in [index - 1, index] where entries.indices.contains(neighbour) {
                if entries[neighbour].range.overlaps(range) {
                    throw .overlap(range, existing: entries[neighbour].range)
                }
            }
            entries.insert(Entry(range: range, device: device), at: index)
        }
    }

    /// Removes the device whose range starts at `base` and returns it.
    ///
    /// - Throws: ``BusError/notFound(base:)`` when no range starts at `base`.
    @discardableResult
    public func remove(base: UInt64) throws(BusError) -> Device {
        try table.withLock { (entries) throws(BusError) -> Device in
            let index = Self.insertionIndex(entries, base: base)
            guard entries.indices.contains(index), entries[index].range.base == base else {
                throw .notFound(base: base)
            }
            return entries.remove(at: index).device
        }
    }

    /// The device whose range holds `address`, with the offset of `address` in that range;
    /// `nil` when no device claims it.
    @inline(__always)
    public func lookup(_ address: UInt64) -> (device: Device, offset: UInt64)? {
        let entries = table.withLock { $0 }
        // The last entry whose base is <= address.
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].range.base <= address { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let entry = entries[low - 1]
        guard entry.range.contains(address) else { return nil }
        return (entry.device, address - entry.range.base)
    }

    /// The registered ranges and devices, by base.
    public var entries: [Entry] { table.withLock { $0 } }

    /// The first index whose base is >= `base`.
    private static func insertionIndex(_ entries: [Entry], base: UInt64) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].range.base < base { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// The port-I/O bus (addresses are ports, 0–0xFFFF).
public typealias PortIOBus = DeviceBus<any PortIODevice>
/// The MMIO bus (guest physical addresses).
public typealias MMIOBus = DeviceBus<any MMIODevice>
