import ResourceAllocator

/// One entry of the BIOS memory map a kernel reads (`e820`): a range and what it is.
public struct E820Entry: Hashable, Sendable {
    /// What a range of physical memory is.
    public enum Kind: UInt32, Hashable, Sendable, Codable {
        /// Usable RAM (`E820_TYPE_RAM`).
        case ram = 1
        /// Not to be used: firmware, MMIO, holes (`E820_TYPE_RESERVED`).
        case reserved = 2
        /// ACPI tables the kernel may reclaim after reading them (`E820_TYPE_ACPI`).
        case acpi = 3
        /// ACPI non-volatile storage (`E820_TYPE_NVS`).
        case nvs = 4
    }

    /// The first address.
    public var address: UInt64
    /// The length in bytes (more than 0).
    public var size: UInt64
    /// What the range is.
    public var kind: Kind

    /// An entry for `size` bytes at `address`.
    public init(address: UInt64, size: UInt64, kind: Kind) {
        self.address = address
        self.size = size
        self.kind = kind
    }

    /// The first address past the range.
    public var end: UInt64 { address + size }
}

/// Why boot parameters could not be built or written.
public enum BootParametersError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Memory map entries that overlap, are empty, wrap past 2^64, or are more than the zero page holds.
    case invalidMemoryMap(String)
    /// The command line is longer than the kernel takes (`cmdline_size`) or holds a NUL byte.
    case invalidCommandLine(String)
    /// The initrd cannot be placed or does not fit where it was asked to go.
    case initrdDoesNotFit(String)
    /// A boot structure (named) does not lie in guest memory or overlaps another.
    case doesNotFit(what: String, address: UInt64, length: UInt64)

    /// A one-line English description.
    public var description: String {
        switch self {
        case .invalidMemoryMap(let why): "invalid memory map: \(why)"
        case .invalidCommandLine(let why): "invalid command line: \(why)"
        case .initrdDoesNotFit(let why): "the initrd does not fit: \(why)"
        case .doesNotFit(let what, let address, let length):
            "\(what) (\(length) bytes at 0x\(String(address, radix: 16))) does not fit in guest memory"
        }
    }
}

/// A BIOS memory map: entries sorted by address, non-empty, disjoint, at most
/// ``maximumEntries`` (what the zero page holds).
public struct E820Map: Hashable, Sendable {
    /// The entries, sorted by address.
    public let entries: [E820Entry]
    /// `E820_MAX_ENTRIES_ZEROPAGE`.
    public static let maximumEntries = 128
    /// Where conventional memory ends: the last KiB below 640 KiB is the EBDA, a reserved area.
    public static let ebdaStart: UInt64 = 0x9_FC00
    /// The start of memory above the legacy hole (1 MiB).
    public static let highMemoryStart: UInt64 = 0x10_0000

    /// Validates `entries` (sorted here) as a memory map.
    ///
    /// - Throws: ``BootParametersError/invalidMemoryMap(_:)`` for an empty or wrapping entry,
    ///   two that overlap, or more than ``maximumEntries``.
    public init(_ entries: [E820Entry]) throws(BootParametersError) {
        let sorted = entries.sorted { $0.address < $1.address }
        guard sorted.count <= Self.maximumEntries else {
            throw .invalidMemoryMap("\(sorted.count) entries, the zero page holds \(Self.maximumEntries)")
        }
        for entry in sorted where entry.size == 0 || entry.address.addingReportingOverflow(entry.size).overflow {
            throw .invalidMemoryMap("the entry at 0x\(String(entry.address, radix: 16)) is empty or wraps past 2^64")
        }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.address < a.end {
            throw .invalidMemoryMap(
                "0x\(String(a.address, radix: 16))+\(a.size) overlaps 0x\(String(b.address, radix: 16))+\(b.size)")
        }
        self.entries = sorted
    }

    /// The map of `layout`'s RAM as a PC reports it: conventional memory below the EBDA, the
    /// EBDA and the BIOS area (`0xF0000`–`0xFFFFF`, where firmware tables live) reserved, the
    /// 640 KiB–1 MiB hole left out, RAM from 1 MiB up to the 32-bit MMIO hole and above 4 GiB;
    /// then `reserved` ranges (which must not overlap RAM) as reserved.
    public static func forLayout(_ layout: X86_64Layout, reserved: [AddressRange] = []) throws(BootParametersError)
        -> E820Map
    {
        var entries: [E820Entry] = []
        for region in layout.ram {
            let start = region.range.start, end = region.range.start + region.range.size
            if start < highMemoryStart {
                let low = min(end, ebdaStart)
                if low > start { entries.append(E820Entry(address: start, size: low - start, kind: .ram)) }
                if end > highMemoryStart {
                    entries.append(E820Entry(address: highMemoryStart, size: end - highMemoryStart, kind: .ram))
                }
            } else {
                entries.append(E820Entry(address: start, size: end - start, kind: .ram))
            }
        }
        if layout.ram.first.map({ $0.range.start + $0.range.size > ebdaStart }) == true {
            entries.append(E820Entry(address: ebdaStart, size: 0xA_0000 - ebdaStart, kind: .reserved))
            entries.append(E820Entry(address: 0xF_0000, size: 0x1_0000, kind: .reserved))
        }
        for range in reserved { entries.append(E820Entry(address: range.start, size: range.size, kind: .reserved)) }
        return try E820Map(entries)
    }

    /// The usable RAM below 4 GiB whose top is highest: where an initrd goes.
    var lowRAM: [E820Entry] { entries.filter { $0.kind == .ram && $0.address < 1 << 32 } }
}
