import DeviceModel
import GuestMemory

/// A device the DSDT describes to the kernel.
public enum ACPIDevice: Sendable, Hashable {
    /// A 16550 UART at `port` (8 ports) on ISA IRQ `irq` (`PNP0501`).
    case serial(port: UInt16, irq: UInt8)
    /// The i8042 keyboard controller at 0x60 and 0x64 on IRQ 1 (`PNP0303`).
    case keyboardController
    /// The CMOS real-time clock at 0x70–0x71 on IRQ 8 (`PNP0B00`).
    case realTimeClock
    /// A virtio-mmio device: `size` bytes at `base`, interrupt `gsi` (`LNRO0005`, what Linux's
    /// virtio-mmio driver matches).
    case virtioMMIO(base: UInt32, size: UInt32, gsi: UInt32)
}

/// Why ACPI tables could not be built or written.
public enum ACPIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The platform described cannot be expressed: no vCPU or more than 254, an ISA IRQ above 15,
    /// too many devices of a kind for their names, an empty or out-of-range window.
    case invalidPlatform(String)
    /// The tables (`length` bytes at `address`) do not lie in guest memory.
    case doesNotFit(address: UInt64, length: UInt64)

    /// A one-line English description.
    public var description: String {
        switch self {
        case .invalidPlatform(let why): "invalid ACPI platform: \(why)"
        case .doesNotFit(let address, let length):
            "the ACPI tables (\(length) bytes at 0x\(String(address, radix: 16))) do not fit in guest memory"
        }
    }
}

/// The ACPI tables a kernel needs to see every vCPU and device of a hardware-reduced platform:
/// RSDP → XSDT → FADT (hardware-reduced, with the DSDT) and MADT (one local APIC per vCPU, the
/// IOAPIC, IRQ 0 routed to GSI 2), the DSDT describing each ``ACPIDevice``. Every table is
/// checksummed.
public struct ACPITables: Sendable {
    /// The vCPU count (local APIC ids 0…n−1).
    public var vcpuCount: Int
    /// The devices in the DSDT.
    public var devices: [ACPIDevice]
    /// The IOAPIC's address (the usual one by default: where KVM's in-kernel IOAPIC decodes).
    public var ioapicAddress: UInt32 = 0xFEC0_0000
    /// The local APICs' address (the architectural default).
    public var localAPICAddress: UInt32 = 0xFEE0_0000
    /// The I/O port of the platform's power control (a DeviceModel `ACPIPowerControl`), or `nil`
    /// for none. With one, the FADT's sleep control and sleep status registers and its reset
    /// register (value `ACPIPowerControl.resetValue`) point at this port, and the DSDT declares
    /// soft-off as `\_S5` with sleep type `ACPIPowerControl.softOffSleepType`: a kernel powers off
    /// and reboots through ACPI by writing there. Without one, a kernel has no way to power off
    /// (it halts) and reboots through the i8042.
    public var powerControlPort: UInt16?

    /// OEM id and table id every table carries.
    static let oemID = Array("SWVMM ".utf8), oemTableID = Array("SWVMMTBL".utf8), creatorID = Array("SVMM".utf8)

    /// Where the tables usually go: the start of the BIOS area a kernel scans for the RSDP
    /// (0xE0000–0xFFFFF) when the boot protocol does not say where it is. Below 1 MiB, out of the
    /// e820 RAM of ``E820Map/forLayout(_:reserved:)``.
    public static let defaultAddress = GuestAddress(0xE_0000)

    /// Tables for `vcpuCount` vCPUs and these devices, with power control at `powerControlPort`
    /// if one is given.
    public init(vcpuCount: Int, devices: [ACPIDevice], powerControlPort: UInt16? = nil) {
        self.vcpuCount = vcpuCount
        self.devices = devices
        self.powerControlPort = powerControlPort
    }

    /// The tables laid out from `base` (16-byte aligned): the RSDP first, then XSDT, FADT, MADT
    /// and DSDT, each 8-byte aligned. Returns the bytes (to copy at `base`) and the address of
    /// each table by signature (`"RSDP"`, `"XSDT"`, `"FACP"`, `"APIC"`, `"DSDT"`).
    public func build(at base: GuestAddress) throws(ACPIError) -> (bytes: [UInt8], tables: [String: GuestAddress]) {
        try validate()
        guard base.rawValue % 16 == 0 else { throw .invalidPlatform("the RSDP must be 16-byte aligned") }
        let dsdt = Self.table("DSDT", revision: 2, body: dsdtBody())
        let madt = Self.table("APIC", revision: 5, body: madtBody())
        func align8(_ n: Int) -> Int { (n + 7) & ~7 }
        let rsdpAt = 0, xsdtAt = 48
        let xsdtLength = 36 + 2 * 8
        let fadtAt = align8(xsdtAt + xsdtLength)
        let fadtLength = 276
        let madtAt = align8(fadtAt + fadtLength)
        let dsdtAt = align8(madtAt + madt.count)
        let address = { (offset: Int) in base.rawValue + UInt64(offset) }
        let fadt = Self.table("FACP", revision: 6, body: fadtBody(dsdt: address(dsdtAt)))
        let xsdt = Self.table(
            "XSDT", revision: 1, body: AML.littleEndian(address(fadtAt)) + AML.littleEndian(address(madtAt)))
        let rsdp = Self.rsdp(xsdt: address(xsdtAt))
        var bytes = [UInt8](repeating: 0, count: dsdtAt + dsdt.count)
        for (offset, table) in [(rsdpAt, rsdp), (xsdtAt, xsdt), (fadtAt, fadt), (madtAt, madt), (dsdtAt, dsdt)] {
            bytes.replaceSubrange(offset..<offset + table.count, with: table)
        }
        return (
            bytes,
            [
                "RSDP": GuestAddress(address(rsdpAt)), "XSDT": GuestAddress(address(xsdtAt)),
                "FACP": GuestAddress(address(fadtAt)), "APIC": GuestAddress(address(madtAt)),
                "DSDT": GuestAddress(address(dsdtAt)),
            ]
        )
    }

    /// Builds the tables at `base` and writes them (all or nothing); returns the RSDP's address
    /// (for `hvm_start_info.rsdp_paddr` or the zero page's `acpi_rsdp_addr`).
    @discardableResult
    public func write(at base: GuestAddress, into memory: some GuestMemoryAccess) throws(ACPIError) -> GuestAddress {
        let (bytes, tables) = try build(at: base)
        guard
            (try? memory.withHostSegments(at: base, count: bytes.count, forWriting: true) { _ in ((), 0) }) != nil,
            (try? memory.write(contentsOf: bytes, at: base)) != nil
        else { throw .doesNotFit(address: base.rawValue, length: UInt64(bytes.count)) }
        return tables["RSDP"]!
    }

    /// Checks what the tables can express: 1 to 254 vCPUs (8-bit local APIC ids, 255 being the
    /// broadcast id), serial ports on ISA IRQs, at most 9 serial ports and 4096 virtio-mmio
    /// devices (4-character device names), one keyboard controller and one clock, virtio-mmio
    /// windows that are not empty and end below 4 GiB.
    func validate() throws(ACPIError) {
        guard vcpuCount >= 1, vcpuCount <= 254 else {
            throw .invalidPlatform("\(vcpuCount) vCPUs: 1 to 254 (8-bit local APIC ids, 255 is the broadcast id)")
        }
        var serials = 0, virtio = 0, keyboards = 0, clocks = 0
        for device in devices {
            switch device {
            case .serial(let port, let irq):
                serials += 1
                guard irq <= 15 else { throw .invalidPlatform("serial IRQ \(irq) is not an ISA IRQ") }
                guard port <= 0xFFF8 else {
                    throw .invalidPlatform("serial port 0x\(String(port, radix: 16)) + 8 passes 0xFFFF")
                }
            case .keyboardController: keyboards += 1
            case .realTimeClock: clocks += 1
            case .virtioMMIO(let base, let size, _):
                virtio += 1
                guard size > 0, UInt64(base) + UInt64(size) <= 1 << 32 else {
                    throw .invalidPlatform(
                        "virtio-mmio window of \(size) bytes at 0x\(String(base, radix: 16)) is empty or passes 4 GiB")
                }
            }
        }
        guard serials <= 9 else { throw .invalidPlatform("\(serials) serial ports: at most 9 (COM1 to COM9)") }
        guard virtio <= 4096 else {
            throw .invalidPlatform("\(virtio) virtio-mmio devices: at most 4096 (V000 to VFFF)")
        }
        guard keyboards <= 1, clocks <= 1 else {
            throw .invalidPlatform("a keyboard controller or real-time clock listed twice")
        }
    }

    /// The 36-byte header and `body`, with the length and checksum filled in.
    static func table(_ signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        var bytes = Array(signature.utf8) + AML.littleEndian(UInt32(36 + body.count)) + [revision, 0]
        bytes += oemID + oemTableID + AML.littleEndian(UInt32(1)) + creatorID + AML.littleEndian(UInt32(1))
        bytes += body
        bytes[9] = checksum(bytes)
        return bytes
    }

    /// The byte that makes `bytes` sum to 0 modulo 256.
    static func checksum(_ bytes: some Collection<UInt8>) -> UInt8 { 0 &- bytes.reduce(0, &+) }

    /// RSDP revision 2 (36 bytes): signature, checksum of the first 20, OEM id, revision, no
    /// RSDT, length, the XSDT's address, the extended checksum.
    static func rsdp(xsdt: UInt64) -> [UInt8] {
        var bytes = Array("RSD PTR ".utf8) + [0] + oemID + [2] + AML.littleEndian(UInt32(0))
        bytes += AML.littleEndian(UInt32(36)) + AML.littleEndian(xsdt) + [0, 0, 0, 0]
        bytes[8] = checksum(bytes[0..<20])
        bytes[32] = checksum(bytes)
        return bytes
    }

    /// FADT 6.5 body (the header is added around it): hardware-reduced, the DSDT's address,
    /// an i8042 present, the hypervisor vendor identity, and with a ``powerControlPort`` the
    /// reset register (and `RESET_REG_SUP`) and the sleep control and status registers.
    func fadtBody(dsdt: UInt64) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: 276 - 36)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            let bytes = AML.littleEndian(value)
            body.replaceSubrange(offset - 36..<offset - 36 + bytes.count, with: bytes)
        }
        put(UInt32(truncatingIfNeeded: dsdt), at: 40)  // DSDT (32-bit)
        put(UInt16(1 << 1), at: 109)  // IAPC_BOOT_ARCH: 8042 present
        put(UInt32(1 << 20 | (powerControlPort == nil ? 0 : 1 << 10)), at: 112)  // HW_REDUCED_ACPI, RESET_REG_SUP
        if let port = powerControlPort {
            // Generic address structures: system I/O, 8 bits, offset 0, byte access, the port.
            let register: [UInt8] = [1, 8, 0, 1] + AML.littleEndian(UInt64(port))
            body.replaceSubrange(116 - 36..<128 - 36, with: register)  // RESET_REG
            put(ACPIPowerControl.resetValue, at: 128)  // RESET_VALUE
            body.replaceSubrange(244 - 36..<256 - 36, with: register)  // SLEEP_CONTROL_REG
            body.replaceSubrange(256 - 36..<268 - 36, with: register)  // SLEEP_STATUS_REG
        }
        put(UInt8(5), at: 131)  // FADT minor version
        put(dsdt, at: 140)  // X_DSDT
        body.replaceSubrange(268 - 36..<276 - 36, with: Array("SWIFTVMM".utf8))  // hypervisor vendor identity
        return body
    }

    /// MADT body: the local APIC address, PCAT_COMPAT (the in-kernel 8259s exist), a local APIC
    /// per vCPU, the IOAPIC, and the override that sends ISA IRQ 0 to GSI 2.
    func madtBody() -> [UInt8] {
        var body = AML.littleEndian(localAPICAddress) + AML.littleEndian(UInt32(1))
        for id in 0..<vcpuCount { body += [0, 8, UInt8(id), UInt8(id)] + AML.littleEndian(UInt32(1)) }
        body += [1, 12, 0, 0] + AML.littleEndian(ioapicAddress) + AML.littleEndian(UInt32(0))
        body += [2, 10, 0, 0] + AML.littleEndian(UInt32(2)) + AML.littleEndian(UInt16(0))
        return body
    }

    /// DSDT body: `Scope (\_SB) { one Device per ACPIDevice }`, then `Name (\_S5, Package () { 5, 0 })`
    /// when there is a ``powerControlPort``.
    func dsdtBody() -> [UInt8] {
        var serials = 0, virtio = 0
        let devices = self.devices.map { device -> [UInt8] in
            switch device {
            case .serial(let port, let irq):
                defer { serials += 1 }
                return AML.device(
                    "COM\(serials + 1)",
                    AML.named("_HID", AML.eisaID("PNP0501")) + AML.named("_UID", AML.integer(UInt64(serials)))
                        + AML.named("_CRS", AML.resourceTemplate([AML.ioPort(port, length: 8), AML.isaIRQ(irq)])))
            case .keyboardController:
                return AML.device(
                    "PS2K",
                    AML.named("_HID", AML.eisaID("PNP0303"))
                        + AML.named(
                            "_CRS",
                            AML.resourceTemplate([
                                AML.ioPort(0x60, length: 1), AML.ioPort(0x64, length: 1), AML.isaIRQ(1),
                            ])))
            case .realTimeClock:
                return AML.device(
                    "RTC_",
                    AML.named("_HID", AML.eisaID("PNP0B00"))
                        + AML.named("_CRS", AML.resourceTemplate([AML.ioPort(0x70, length: 2), AML.isaIRQ(8)])))
            case .virtioMMIO(let base, let size, let gsi):
                defer { virtio += 1 }
                return AML.device(
                    "V" + String(format2Hex: virtio),
                    AML.named("_HID", AML.string("LNRO0005")) + AML.named("_UID", AML.integer(UInt64(virtio)))
                        + AML.named(
                            "_CRS", AML.resourceTemplate([AML.memory32(base, length: size), AML.interrupt(gsi)])))
            }
        }
        let sleepStates =
            powerControlPort == nil
            ? []
            : [0x08, 0x5C] + AML.name("_S5_")
                + AML.package([AML.integer(UInt64(ACPIPowerControl.softOffSleepType)), AML.integer(0)])
        return AML.scope("_SB_", devices.flatMap { $0 }) + sleepStates
    }
}

extension String {
    /// `n` as three uppercase hex digits (a device name's last three characters).
    fileprivate init(format2Hex n: Int) {
        let hex = String(n & 0xFFF, radix: 16, uppercase: true)
        self = String(repeating: "0", count: 3 - hex.count) + hex
    }
}
