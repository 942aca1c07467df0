import ArgumentParser
import VHD

/// A 32-bit footer field on the command line: `0x` and one to eight hexadecimal digits, or the
/// field's own text form.
protocol FooterFieldArgument: ExpressibleByArgument {
    init(value: UInt32)
    /// The value of the text form, nil when it is not valid.
    static func parseText(_ text: String) -> UInt32?
}

extension FooterFieldArgument {
    init?(argument: String) {
        let value: UInt32?
        if argument.hasPrefix("0x") || argument.hasPrefix("0X") {
            let digits = argument.dropFirst(2)
            value = (1...8).contains(digits.count) && digits.allSatisfy(\.isHexDigit) ? UInt32(digits, radix: 16) : nil
        } else {
            value = Self.parseText(argument)
        }
        guard let value else { return nil }
        self.init(value: value)
    }
}

/// A four-character code: up to four printable ASCII characters (padded with spaces, as
/// `vs  `), or hexadecimal for codes such as `tap\0` or a host OS of 0.
struct FourCC: FooterFieldArgument, Sendable {
    let value: UInt32

    static func parseText(_ text: String) -> UInt32? {
        guard !text.isEmpty, text.utf8.count <= 4, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return fourCC(text)
    }
}

/// A creator version: `MAJOR.MINOR` (each 0…65535), or hexadecimal.
struct CreatorVersion: FooterFieldArgument, Sendable {
    let value: UInt32

    static func parseText(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = UInt16(parts[0]), let minor = UInt16(parts[1]) else { return nil }
        return UInt32(major) << 16 | UInt32(minor)
    }
}

/// A unique id on the command line (see ``VHDUniqueID/init(parsing:)``).
struct UniqueIDArgument: ExpressibleByArgument, Sendable {
    let value: VHDUniqueID

    init?(argument: String) {
        guard let id = VHDUniqueID(parsing: argument) else { return nil }
        value = id
    }
}
