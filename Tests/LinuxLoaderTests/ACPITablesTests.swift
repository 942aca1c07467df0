import DeviceModel
import Foundation
import GuestMemory
import LinuxLoader
import TestSupport
import Testing

/// The ACPI tables describe the platform as ACPICA's disassembler (`iasl -d`, the reference
/// implementation) reads them: every checksum right; the RSDP leading to the XSDT, the XSDT to
/// the FADT and MADT, the FADT hardware-reduced with the DSDT; one enabled local APIC per vCPU,
/// the IOAPIC and the IRQ 0 override in the MADT; each device in the DSDT with its id and
/// resources. Bad platforms are refused; a write that does not fit writes nothing.
@Suite struct ACPITablesTests {
    static let iasl = ["/usr/bin/iasl", "/usr/sbin/iasl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let platform = ACPITables(
        vcpuCount: 2,
        devices: [
            .serial(port: 0x3F8, irq: 4), .keyboardController, .realTimeClock,
            .virtioMMIO(base: 0xD000_0000, size: 0x200, gsi: 5), .virtioMMIO(base: 0xD000_1000, size: 0x200, gsi: 6),
        ])

    /// The table at `address` within `bytes` laid out from `base`, by its header's length.
    static func table(_ bytes: [UInt8], _ address: GuestAddress, base: UInt64) -> [UInt8] {
        let offset = Int(address.rawValue - base)
        let length = Int(bytes[offset + 4]) | Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]) << 16
        return Array(bytes[offset..<offset + length])
    }

    /// `iasl -d` of `table`: its disassembly (fails the test if iasl fails or warns of a checksum).
    static func disassemble(_ table: [UInt8], name: String, in dir: TemporaryDirectory) throws -> String {
        let iasl = try #require(Self.iasl, "iasl not installed")
        let path = dir.file("\(name).dat")
        try Data(table).write(to: URL(fileURLWithPath: path))
        let result = try runProcess(iasl, ["-d", path])
        try #require(result.status == 0, "iasl -d \(name): \(result.text) \(result.standardError)")
        let dsl = try String(contentsOfFile: dir.file("\(name).dsl"), encoding: .utf8)
        #expect(!dsl.contains("Incorrect checksum") && !result.text.contains("Incorrect checksum"), "\(name): \(dsl)")
        return dsl
    }

    @Test(.iaslInstalled)
    func iaslReadsThePlatform() throws {
        let dir = try TemporaryDirectory()
        let base: UInt64 = 0xE_0000
        let (bytes, tables) = try Self.platform.build(at: GuestAddress(base))
        #expect(tables["RSDP"] == GuestAddress(base))
        // iasl does not take an RSDP alone: its fields and both checksums (ACPI 6.5, 5.2.5.3) by hand.
        let rsdp = Array(bytes[0..<36])
        #expect(Array(rsdp[0..<8]) == Array("RSD PTR ".utf8) && rsdp[15] == 2, "signature, revision 2")
        #expect(rsdp[0..<20].reduce(0, &+) == 0 && rsdp.reduce(0, &+) == 0, "checksum and extended checksum")
        #expect(rsdp[20..<24].reversed().reduce(0) { $0 << 8 | UInt32($1) } == 36, "length")
        #expect(rsdp[24..<32].reversed().reduce(0) { $0 << 8 | UInt64($1) } == tables["XSDT"]!.rawValue, "XSDT address")

        let xsdt = try Self.disassemble(Self.table(bytes, tables["XSDT"]!, base: base), name: "xsdt", in: dir)
        #expect(xsdt.contains(String(format: "ACPI Table Address   0 : %016X", tables["FACP"]!.rawValue)), "\(xsdt)")
        #expect(xsdt.contains(String(format: "ACPI Table Address   1 : %016X", tables["APIC"]!.rawValue)), "\(xsdt)")

        let fadt = try Self.disassemble(Self.table(bytes, tables["FACP"]!, base: base), name: "facp", in: dir)
        for expected in [
            "Hardware Reduced (V5) : 1", "8042 Present on ports 60/64 (V2) : 1", "FADT Minor Revision : 05",
            "Revision : 06", String(format: "DSDT Address : %08X", tables["DSDT"]!.rawValue),
            String(format: "DSDT Address : %016X", tables["DSDT"]!.rawValue),
        ] {
            #expect(fadt.contains(expected), "missing \(expected) in \(fadt)")
        }

        let madt = try Self.disassemble(Self.table(bytes, tables["APIC"]!, base: base), name: "apic", in: dir)
        #expect(madt.components(separatedBy: "Subtable Type : 00 [Processor Local APIC]").count - 1 == 2, "\(madt)")
        for expected in [
            "Local Apic Address : FEE00000", "Processor ID : 01", "Local Apic ID : 01", "Processor Enabled : 1",
            "Subtable Type : 01 [I/O APIC]", "Address : FEC00000",
            "Subtable Type : 02 [Interrupt Source Override]", "Source : 00", "Interrupt : 00000002",
        ] {
            #expect(madt.contains(expected), "missing \(expected) in \(madt)")
        }

        let dsdt = try Self.disassemble(Self.table(bytes, tables["DSDT"]!, base: base), name: "dsdt", in: dir)
        // Without iasl's comments (`// Range Minimum`, `/* 16550A-compatible … */`), whitespace collapsed:
        // each device's whole block, so a resource in the wrong device fails (a removed comment leaves a space).
        let flat = Self.withoutComments(dsdt).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for expected in [
            #"Device (COM1) { Name (_HID, EisaId ("PNP0501") ) Name (_UID, Zero) Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, ) IRQNoFlags () {4} }) }"#,
            #"Device (PS2K) { Name (_HID, EisaId ("PNP0303") ) Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0060, 0x0060, 0x01, 0x01, ) IO (Decode16, 0x0064, 0x0064, 0x01, 0x01, ) IRQNoFlags () {1} }) }"#,
            #"Device (RTC) { Name (_HID, EisaId ("PNP0B00") ) Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0070, 0x0070, 0x01, 0x02, ) IRQNoFlags () {8} }) }"#,
            #"Device (V000) { Name (_HID, "LNRO0005") Name (_UID, Zero) Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xD0000000, 0x00000200, ) Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000005, } }) }"#,
            #"Device (V001) { Name (_HID, "LNRO0005") Name (_UID, One) Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xD0001000, 0x00000200, ) Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000006, } }) }"#,
        ] {
            #expect(flat.contains(expected), "missing \(expected) in \(flat)")
        }
    }

    /// With a power-control port, the FADT's reset register (and its flag) and sleep control and
    /// status registers are that port, 8-bit system I/O, and the DSDT declares `\_S5` with
    /// DeviceModel's soft-off sleep type: what a kernel needs to power off and reboot through ACPI.
    @Test(.iaslInstalled)
    func powerControlIsDescribed() throws {
        let dir = try TemporaryDirectory()
        let base: UInt64 = 0xE_0000
        var platform = Self.platform
        platform.powerControlPort = 0x600
        let (bytes, tables) = try platform.build(at: GuestAddress(base))
        let fadt = try Self.disassemble(Self.table(bytes, tables["FACP"]!, base: base), name: "facp", in: dir)
        let flat = fadt.split(whereSeparator: \.isNewline).map { $0.split(separator: " ").joined(separator: " ") }
            .joined(separator: "\n")
        for expected in [
            "Reset Register Supported (V2) : 1", "Value to cause reset : 01",
            "[074h 0116 12] Reset Register : [Generic Address Structure]\n[074h 0116 1] Space ID : 01 [SystemIO]\n[075h 0117 1] Bit Width : 08\n[076h 0118 1] Bit Offset : 00\n[077h 0119 1] Encoded Access Width : 01 [Byte Access:8]\n[078h 0120 8] Address : 0000000000000600",
            "[0F4h 0244 12] Sleep Control Register : [Generic Address Structure]\n[0F4h 0244 1] Space ID : 01 [SystemIO]\n[0F5h 0245 1] Bit Width : 08\n[0F6h 0246 1] Bit Offset : 00\n[0F7h 0247 1] Encoded Access Width : 01 [Byte Access:8]\n[0F8h 0248 8] Address : 0000000000000600",
            "[100h 0256 12] Sleep Status Register : [Generic Address Structure]\n[100h 0256 1] Space ID : 01 [SystemIO]\n[101h 0257 1] Bit Width : 08\n[102h 0258 1] Bit Offset : 00\n[103h 0259 1] Encoded Access Width : 01 [Byte Access:8]\n[104h 0260 8] Address : 0000000000000600",
        ] {
            #expect(flat.contains(expected), "missing \(expected) in \(flat)")
        }
        #expect(ACPIPowerControl.resetValue == 1, "the value the FADT shows above")
        let dsdt = try Self.disassemble(Self.table(bytes, tables["DSDT"]!, base: base), name: "dsdt", in: dir)
        let dsdtFlat = Self.withoutComments(dsdt).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let type = String(format: "%02X", ACPIPowerControl.softOffSleepType)
        let s5 = #"Name (\_S5, Package (0x02) { 0x"# + type + ", Zero })"
        #expect(dsdtFlat.contains(s5), "missing \(s5) in \(dsdtFlat)")
        // Without the port: no reset register, no sleep registers, no \_S5.
        let (plain, plainTables) = try Self.platform.build(at: GuestAddress(base))
        let plainFADT = try Self.disassemble(
            Self.table(plain, plainTables["FACP"]!, base: base), name: "plain", in: dir)
        #expect(plainFADT.contains("Reset Register Supported (V2) : 0"))
        #expect(
            !Self.withoutComments(
                try Self.disassemble(Self.table(plain, plainTables["DSDT"]!, base: base), name: "plaindsdt", in: dir)
            ).contains("_S5"))
    }

    /// A DSDT past 4 KiB needs AML's 3-byte package lengths: iasl reads all 300 devices.
    @Test(.iaslInstalled)
    func largeTablesUseLongPackageLengths() throws {
        let dir = try TemporaryDirectory()
        let base: UInt64 = 0x10_0000
        let tables = ACPITables(
            vcpuCount: 254,
            devices: (0..<300).map { .virtioMMIO(base: 0xD000_0000 + UInt32($0) * 0x1000, size: 0x200, gsi: 5) })
        let (bytes, addresses) = try tables.build(at: GuestAddress(base))
        let dsdtBytes = Self.table(bytes, addresses["DSDT"]!, base: base)
        #expect(dsdtBytes.count > 1 << 12)
        let dsdt = Self.withoutComments(try Self.disassemble(dsdtBytes, name: "dsdt", in: dir))
        #expect(dsdt.components(separatedBy: "\"LNRO0005\"").count - 1 == 300)
        #expect(dsdt.contains("Device (V12B)") && dsdt.contains("0xD012B000,"), "the 300th device")
        let madt = try Self.disassemble(Self.table(bytes, addresses["APIC"]!, base: base), name: "apic", in: dir)
        #expect(madt.components(separatedBy: "[Processor Local APIC]").count - 1 == 254)
        #expect(madt.contains("Local Apic ID : FD"))
    }

    /// `text` without `/* … */` (across lines) and `// …` comments.
    static func withoutComments(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.hasPrefix("/*") {
                guard let close = rest.range(of: "*/") else { break }
                rest = rest[close.upperBound...]
            } else if rest.hasPrefix("//") {
                rest = rest.drop { $0 != "\n" }
            } else {
                result.append(rest.removeFirst())
            }
        }
        return result
    }

    @Test func writingPutsTheTablesAtTheirPlaceOrNowhere() throws {
        let memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: 1 << 20)])
        let rsdp = try Self.platform.write(at: GuestAddress(0xE_0000), into: memory)
        #expect(rsdp == GuestAddress(0xE_0000))
        #expect(try memory.readBytes(count: 8, at: rsdp) == Array("RSD PTR ".utf8))
        let (bytes, _) = try Self.platform.build(at: GuestAddress(0xF_FF00))
        #expect(throws: ACPIError.doesNotFit(address: 0xF_FF00, length: UInt64(bytes.count))) {
            try Self.platform.write(at: GuestAddress(0xF_FF00), into: memory)
        }
        #expect(try memory.readBytes(count: 0x100, at: GuestAddress(0xF_FF00)).allSatisfy { $0 == 0 })
    }

    @Test func impossiblePlatformsAreRefused() throws {
        let base = GuestAddress(0xE_0000)
        for count in [0, 255] {
            #expect(
                throws: ACPIError.invalidPlatform(
                    "\(count) vCPUs: 1 to 254 (8-bit local APIC ids, 255 is the broadcast id)")
            ) { try ACPITables(vcpuCount: count, devices: []).build(at: base) }
        }
        #expect(try ACPITables(vcpuCount: 254, devices: []).build(at: base).bytes.count > 0)
        #expect(throws: ACPIError.invalidPlatform("10 serial ports: at most 9 (COM1 to COM9)")) {
            try ACPITables(vcpuCount: 1, devices: (0..<10).map { _ in .serial(port: 0x3F8, irq: 4) }).build(at: base)
        }
        #expect(throws: ACPIError.invalidPlatform("4097 virtio-mmio devices: at most 4096 (V000 to VFFF)")) {
            try ACPITables(
                vcpuCount: 1,
                devices: (0..<4097).map { .virtioMMIO(base: 0xD000_0000 + UInt32($0) * 0x200, size: 0x200, gsi: 5) }
            ).build(at: base)
        }
        #expect(throws: ACPIError.invalidPlatform("a keyboard controller or real-time clock listed twice")) {
            try ACPITables(vcpuCount: 1, devices: [.realTimeClock, .realTimeClock]).build(at: base)
        }
        #expect(
            throws: ACPIError.invalidPlatform("virtio-mmio window of 4096 bytes at 0xfffff800 is empty or passes 4 GiB")
        ) {
            try ACPITables(vcpuCount: 1, devices: [.virtioMMIO(base: 0xFFFF_F800, size: 0x1000, gsi: 5)]).build(
                at: base)
        }
        #expect(
            throws: ACPIError.invalidPlatform("virtio-mmio window of 0 bytes at 0xd0000000 is empty or passes 4 GiB")
        ) {
            try ACPITables(vcpuCount: 1, devices: [.virtioMMIO(base: 0xD000_0000, size: 0, gsi: 5)]).build(at: base)
        }
        #expect(throws: ACPIError.invalidPlatform("serial port 0xfffc + 8 passes 0xFFFF")) {
            try ACPITables(vcpuCount: 1, devices: [.serial(port: 0xFFFC, irq: 4)]).build(at: base)
        }
        #expect(throws: ACPIError.invalidPlatform("serial IRQ 16 is not an ISA IRQ")) {
            try ACPITables(vcpuCount: 1, devices: [.serial(port: 0x3F8, irq: 16)]).build(at: GuestAddress(0xE_0000))
        }
        #expect(throws: ACPIError.invalidPlatform("the RSDP must be 16-byte aligned")) {
            try ACPITables(vcpuCount: 1, devices: []).build(at: GuestAddress(0xE_0008))
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// iasl (Debian's acpica-tools) is installed; under CI a missing iasl fails the test instead.
    static var iaslInstalled: Self {
        .enabled(
            if: ACPITablesTests.iasl != nil || ProcessInfo.processInfo.environment["CI"] != nil,
            "iasl (acpica-tools) not installed")
    }
}
