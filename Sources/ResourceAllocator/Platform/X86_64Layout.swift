/// Why an ``X86_64Layout`` could not be built.
public enum LayoutError: Error, Hashable, Sendable {
    /// The guest memory size is zero.
    case zeroMemory
    /// RAM (plus the hole) would reach past the physical address width.
    case memoryTooLarge(UInt64)
    /// A configuration value is out of its allowed range; the string names it.
    case invalidConfiguration(String)
}

/// A guest RAM region and the KVM memory slot id it was given.
public struct RAMRegion: Hashable, Sendable, Codable {
    /// The guest physical addresses of the region.
    public let range: AddressRange
    /// The KVM memory slot id allocated for it.
    public let slot: UInt32
}

/// The platform resources of an x86_64 guest, carved with ``AddressAllocator`` and
/// ``IdAllocator``:
///
/// - port I/O space `0x0...0xFFFF`;
/// - RAM from 0 up to the 32-bit MMIO hole, the rest from 4 GiB upwards;
/// - the 32-bit MMIO window `[mmio32Start, mmio32End)` inside the hole (the default end,
///   `0xFEC0_0000`, leaves the IOAPIC, LAPIC and firmware area below 4 GiB alone);
/// - the 64-bit MMIO window from the first 1 GiB boundary above RAM (and at least 4 GiB)
///   to the top of the physical address width;
/// - legacy IRQs (IOAPIC pins, `0..<legacyIRQCount`) and MSI GSIs
///   (`legacyIRQCount..<gsiCount`, KVM allows 4096 routes);
/// - KVM memory slot ids, of which the RAM regions take the first ones.
///
/// The whole layout is `Codable`, so a VMM can save it with a snapshot and restore it.
public struct X86_64Layout: Sendable {
    /// The knobs of the layout; the defaults match common KVM-based VMMs.
    public struct Configuration: Hashable, Sendable, Codable {
        /// Guest RAM in bytes.
        public var memorySize: UInt64
        /// Start of the 32-bit MMIO hole; RAM stops here and resumes at 4 GiB.
        public var mmio32Start: UInt64
        /// End of the 32-bit MMIO window (exclusive); `[mmio32End, 4 GiB)` stays reserved.
        public var mmio32End: UInt64
        /// Guest physical address width; the 64-bit MMIO window ends at `1 << bits`.
        public var physicalAddressBits: UInt8
        /// Number of legacy IRQ lines (IOAPIC pins).
        public var legacyIRQCount: UInt32
        /// Number of GSIs (KVM IRQ routes); MSI GSIs are the ones above the legacy IRQs.
        public var gsiCount: UInt32
        /// Number of KVM memory slots (KVM_CAP_NR_MEMSLOTS).
        public var memorySlotCount: UInt32

        /// A configuration with the usual defaults: hole at 3 GiB, window up to
        /// `0xFEC0_0000`, 46 address bits, 24 IOAPIC pins, 4096 GSIs, 32764 memory slots.
        public init(
            memorySize: UInt64, mmio32Start: UInt64 = 0xC000_0000, mmio32End: UInt64 = 0xFEC0_0000,
            physicalAddressBits: UInt8 = 46, legacyIRQCount: UInt32 = 24, gsiCount: UInt32 = 4096,
            memorySlotCount: UInt32 = 32764
        ) {
            self.memorySize = memorySize
            self.mmio32Start = mmio32Start
            self.mmio32End = mmio32End
            self.physicalAddressBits = physicalAddressBits
            self.legacyIRQCount = legacyIRQCount
            self.gsiCount = gsiCount
            self.memorySlotCount = memorySlotCount
        }
    }

    /// 4 GiB, where the 32-bit address space ends.
    public static let fourGiB: UInt64 = 1 << 32
    /// Alignment of the 64-bit MMIO window's start.
    public static let mmio64Alignment: UInt64 = 1 << 30

    /// The configuration the layout was built from.
    public let configuration: Configuration
    /// Guest RAM regions in address order (one or two) and their memory slots.
    public let ram: [RAMRegion]
    /// Port I/O space, `0x0...0xFFFF`.
    public var portIO: AddressAllocator
    /// The 32-bit MMIO window below 4 GiB.
    public var mmio32: AddressAllocator
    /// The 64-bit MMIO window above RAM.
    public var mmio64: AddressAllocator
    /// Legacy IRQ lines.
    public var legacyIRQs: IdAllocator
    /// GSIs for MSI routes.
    public var msiGSIs: IdAllocator
    /// KVM memory slot ids (the RAM regions already hold the first ones).
    public var memorySlots: IdAllocator

    /// Builds the layout for `configuration`.
    public init(_ configuration: Configuration) throws(LayoutError) {
        let c = configuration
        guard c.memorySize > 0 else { throw .zeroMemory }
        guard c.physicalAddressBits >= 33 && c.physicalAddressBits <= 63 else {
            throw .invalidConfiguration("physicalAddressBits must be 33...63")
        }
        guard c.mmio32Start < c.mmio32End, c.mmio32End <= Self.fourGiB else {
            throw .invalidConfiguration("need mmio32Start < mmio32End <= 4 GiB")
        }
        guard c.legacyIRQCount > 0, c.legacyIRQCount < c.gsiCount else {
            throw .invalidConfiguration("need 0 < legacyIRQCount < gsiCount")
        }
        guard c.memorySlotCount >= 2 else { throw .invalidConfiguration("memorySlotCount must be at least 2") }
        let top: UInt64 = 1 << UInt64(c.physicalAddressBits)

        var regions: [AddressRange] = []
        if c.memorySize <= c.mmio32Start {
            regions.append(AddressRange(uncheckedStart: 0, end: c.memorySize))
        } else {
            let high = c.memorySize - c.mmio32Start
            guard high <= top - Self.fourGiB else { throw .memoryTooLarge(c.memorySize) }
            regions.append(AddressRange(uncheckedStart: 0, end: c.mmio32Start))
            regions.append(AddressRange(uncheckedStart: Self.fourGiB, end: Self.fourGiB + high))
        }
        let ramTop = Swift.max(regions[regions.count - 1].end, Self.fourGiB)
        let mmio64Start = (ramTop + Self.mmio64Alignment - 1) & ~(Self.mmio64Alignment - 1)
        guard mmio64Start < top else { throw .memoryTooLarge(c.memorySize) }

        var slots = IdAllocator(0...(c.memorySlotCount - 1))
        var ram: [RAMRegion] = []
        for range in regions {
            // Cannot fail: the slot count is at least 2 and at most two regions exist.
            guard let slot = try? slots.allocate() else { throw .invalidConfiguration("memorySlotCount") }
            ram.append(RAMRegion(range: range, slot: slot))
        }
        do {
            portIO = try AddressAllocator(base: 0, size: 0x1_0000)
            mmio32 = try AddressAllocator(base: c.mmio32Start, size: c.mmio32End - c.mmio32Start)
            mmio64 = try AddressAllocator(base: mmio64Start, size: top - mmio64Start)
        } catch {
            throw .invalidConfiguration("address windows: \(error)")
        }
        self.configuration = configuration
        self.ram = ram
        legacyIRQs = IdAllocator(0...(c.legacyIRQCount - 1))
        msiGSIs = IdAllocator(c.legacyIRQCount...(c.gsiCount - 1))
        memorySlots = slots
    }

    /// Builds the default layout for `memorySize` bytes of RAM.
    public init(memorySize: UInt64) throws(LayoutError) {
        try self.init(Configuration(memorySize: memorySize))
    }

    /// The RAM region holding `address`, if any.
    public func ramRegion(containing address: UInt64) -> RAMRegion? {
        ram.first { $0.range.contains(address) }
    }
}

extension X86_64Layout: Codable {
    private enum CodingKeys: String, CodingKey {
        case configuration, ram, portIO, mmio32, mmio64, legacyIRQs, msiGSIs, memorySlots
    }

    /// Encodes the configuration, the RAM regions and the state of every allocator.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(configuration, forKey: .configuration)
        try c.encode(ram, forKey: .ram)
        try c.encode(portIO, forKey: .portIO)
        try c.encode(mmio32, forKey: .mmio32)
        try c.encode(mmio64, forKey: .mmio64)
        try c.encode(legacyIRQs, forKey: .legacyIRQs)
        try c.encode(msiGSIs, forKey: .msiGSIs)
        try c.encode(memorySlots, forKey: .memorySlots)
    }

    /// Rebuilds the layout from the saved configuration and requires the saved RAM regions,
    /// windows and id ranges to be exactly the ones it implies (each allocator validates its
    /// own allocations), so a corrupted save cannot move MMIO over RAM.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let configuration = try c.decode(Configuration.self, forKey: .configuration)
        var layout: X86_64Layout
        do { layout = try X86_64Layout(configuration) } catch {
            throw DecodingError.dataCorruptedError(forKey: .configuration, in: c, debugDescription: "\(error)")
        }
        /// Decodes `key` into `field` of the fresh layout if `matches(saved, fresh)`.
        func restore<T: Decodable>(
            _ key: CodingKeys, _ field: WritableKeyPath<X86_64Layout, T>, _ matches: (T, T) -> Bool
        ) throws {
            let saved = try c.decode(T.self, forKey: key)
            guard matches(saved, layout[keyPath: field]) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: c, debugDescription: "does not match the configuration")
            }
            layout[keyPath: field] = saved
        }
        let sameSpace = { (a: AddressAllocator, b: AddressAllocator) in a.space == b.space }
        let sameIds = { (a: IdAllocator, b: IdAllocator) in a.first == b.first && a.last == b.last }
        guard try c.decode([RAMRegion].self, forKey: .ram) == layout.ram else {
            throw DecodingError.dataCorruptedError(
                forKey: .ram, in: c, debugDescription: "does not match the configuration")
        }
        try restore(.portIO, \.portIO, sameSpace)
        try restore(.mmio32, \.mmio32, sameSpace)
        try restore(.mmio64, \.mmio64, sameSpace)
        try restore(.legacyIRQs, \.legacyIRQs, sameIds)
        try restore(.msiGSIs, \.msiGSIs, sameIds)
        let ram = layout.ram
        try restore(.memorySlots, \.memorySlots) { saved, fresh in
            sameIds(saved, fresh) && ram.allSatisfy { saved.isAllocated($0.slot) }
        }
        self = layout
    }
}
