import ArgumentParser
import VHD

/// A four-character code on the command line: up to four ASCII characters (padded with
/// spaces, as `vs  `) or `0x` and up to eight hexadecimal digits (for codes such as `tap\0`
/// or a host OS of 0).
struct FourCC: ExpressibleByArgument, Sendable {
    let value: UInt32

    init?(argument: String) {
        if argument.hasPrefix("0x") || argument.hasPrefix("0X") {
            guard let value = hexValue(argument.dropFirst(2)) else { return nil }
            self.value = value
            return
        }
        guard !argument.isEmpty, argument.utf8.count <= 4, argument.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        value = fourCC(argument)
    }
}

/// A creator version: `MAJOR.MINOR` (each 0…65535) or `0x` and up to eight hexadecimal digits.
struct CreatorVersion: ExpressibleByArgument, Sendable {
    let value: UInt32

    init?(argument: String) {
        if argument.hasPrefix("0x") || argument.hasPrefix("0X") {
            guard let value = hexValue(argument.dropFirst(2)) else { return nil }
            self.value = value
            return
        }
        let parts = argument.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = UInt16(parts[0]), let minor = UInt16(parts[1]) else { return nil }
        value = UInt32(major) << 16 | UInt32(minor)
    }
}

/// One to eight hexadecimal digits (no sign), as a number.
private func hexValue(_ digits: Substring) -> UInt32? {
    guard (1...8).contains(digits.count), digits.allSatisfy(\.isHexDigit) else { return nil }
    return UInt32(digits, radix: 16)
}

/// A unique id on the command line (see ``VHDUniqueID/init(parsing:)``).
struct UniqueIDArgument: ExpressibleByArgument, Sendable {
    let value: VHDUniqueID

    init?(argument: String) {
        guard let id = VHDUniqueID(parsing: argument) else { return nil }
        value = id
    }
}
