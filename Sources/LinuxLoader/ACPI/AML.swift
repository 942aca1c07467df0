/// The few AML (ACPI Machine Language) constructs a DSDT describing fixed devices needs:
/// scopes, devices, named integers, strings, EISA ids and resource-template buffers.
enum AML {
    /// `PkgLength`: the length of what follows it, itself included, in 1 to 4 bytes.
    static func packageLength(_ contentLength: Int) -> [UInt8] {
        for extra in 0...3 {
            let total = contentLength + 1 + extra
            if extra == 0, total < 0x40 { return [UInt8(total)] }
            if extra > 0, total < 1 << (4 + 8 * extra) {
                var bytes = [UInt8(extra << 6) | UInt8(total & 0xF)]
                for i in 0..<extra { bytes.append(UInt8(truncatingIfNeeded: total >> (4 + 8 * i))) }
                return bytes
            }
        }
        preconditionFailure("AML package of \(contentLength) bytes")  // 256 MiB: never built here
    }

    /// A 4-character name segment (`_HID`, `COM1`), padded with `_`.
    static func name(_ segment: String) -> [UInt8] {
        let bytes = Array(segment.utf8.prefix(4))
        return bytes + [UInt8](repeating: 0x5F, count: 4 - bytes.count)
    }

    /// `ScopeOp`: `\name { body }` for a root-relative name such as `\_SB_`.
    static func scope(_ rootName: String, _ body: [UInt8]) -> [UInt8] {
        let content = [0x5C] + name(rootName) + body
        return [0x10] + packageLength(content.count) + content
    }

    /// `DeviceOp`: `Device (name) { body }`.
    static func device(_ deviceName: String, _ body: [UInt8]) -> [UInt8] {
        let content = name(deviceName) + body
        return [0x5B, 0x82] + packageLength(content.count) + content
    }

    /// `NameOp`: `Name (name, object)`.
    static func named(_ objectName: String, _ object: [UInt8]) -> [UInt8] { [0x08] + name(objectName) + object }

    /// An integer in its shortest encoding.
    static func integer(_ value: UInt64) -> [UInt8] {
        switch value {
        case 0: return [0x00]
        case 1: return [0x01]
        case ...0xFF: return [0x0A, UInt8(value)]
        case ...0xFFFF: return [0x0B] + littleEndian(UInt16(value))
        case ...0xFFFF_FFFF: return [0x0C] + littleEndian(UInt32(value))
        default: return [0x0E] + littleEndian(value)
        }
    }

    /// `PackageOp`: `Package () { elements }` (at most 255 elements).
    static func package(_ elements: [[UInt8]]) -> [UInt8] {
        let content = [UInt8(elements.count)] + Array(elements.joined())
        return [0x12] + packageLength(content.count) + content
    }

    /// A string (ASCII, NUL-terminated).
    static func string(_ text: String) -> [UInt8] { [0x0D] + Array(text.utf8) + [0x00] }

    /// `EisaId ("PNP0501")` as its 32-bit compressed form.
    static func eisaID(_ id: String) -> [UInt8] {
        let c = Array(id.utf8)
        let vendor = UInt16(c[0] & 0x1F) << 10 | UInt16(c[1] & 0x1F) << 5 | UInt16(c[2] & 0x1F)
        let product = UInt16(String(decoding: c[3...], as: UTF8.self), radix: 16) ?? 0
        return [0x0C, UInt8(vendor >> 8), UInt8(vendor & 0xFF), UInt8(product >> 8), UInt8(product & 0xFF)]
    }

    /// A buffer holding `resources` and the end tag: what `ResourceTemplate () { … }` compiles to.
    static func resourceTemplate(_ resources: [[UInt8]]) -> [UInt8] {
        let bytes: [UInt8] = Array(resources.joined()) + [0x79, 0x00]
        let content = integer(UInt64(bytes.count)) + bytes
        return [0x11] + packageLength(content.count) + content
    }

    /// `IO (Decode16, base, base, 1, length)`.
    static func ioPort(_ base: UInt16, length: UInt8) -> [UInt8] {
        [0x47, 0x01] + littleEndian(base) + littleEndian(base) + [0x01, length]
    }

    /// `IRQNoFlags () { irq }` (an ISA IRQ below 16).
    static func isaIRQ(_ irq: UInt8) -> [UInt8] { [0x22] + littleEndian(UInt16(1) << irq) }

    /// `Memory32Fixed (ReadWrite, base, length)`.
    static func memory32(_ base: UInt32, length: UInt32) -> [UInt8] {
        [0x86, 0x09, 0x00, 0x01] + littleEndian(base) + littleEndian(length)
    }

    /// `Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }`.
    static func interrupt(_ gsi: UInt32) -> [UInt8] { [0x89, 0x06, 0x00, 0x03, 0x01] + littleEndian(gsi) }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian, Array.init)
    }
}
