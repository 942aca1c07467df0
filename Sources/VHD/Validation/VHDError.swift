import BlockStorage
import SystemPackage

/// Everything that can go wrong opening, creating or maintaining a VHD. Format problems name
/// the structure field at fault (`footer.checksum`, `header.blockSize`, `bat[12]`, …).
public enum VHDError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An I/O call failed, or a data-path error surfaced while working on the image.
    case device(BlockDeviceError)
    /// The file is too small to hold the named structure.
    case truncated(structure: String, needed: UInt64, fileSize: UInt64)
    /// A structure's magic cookie is wrong.
    case badCookie(field: String, expected: String, found: String)
    /// A structure's stored checksum differs from the computed one.
    case badChecksum(field: String, stored: UInt32, computed: UInt32)
    /// A field holds a value the format does not allow (or that contradicts the file).
    case invalidField(field: String, value: UInt64, reason: String)
    /// A block allocation table entry points (partly) past the end of the file.
    case batEntryOutsideFile(block: Int, offset: UInt64, end: UInt64, fileSize: UInt64)
    /// A block allocation table entry points into the footer copy, header, BAT or locators.
    case batEntryInMetadata(block: Int, offset: UInt64, metadataEnd: UInt64)
    /// Two block allocation table entries share file space.
    case batEntriesOverlap(block: Int, otherBlock: Int, offset: UInt64)
    /// A parent locator's data lies (partly) past the end of the file.
    case locatorOutsideFile(index: Int, offset: UInt64, length: UInt64, fileSize: UInt64)
    /// No parent locator, nor the parent name, leads to a readable file.
    case parentNotFound(tried: [String])
    /// The file a locator leads to is not the parent the child was made from.
    case parentMismatch(path: String, expected: VHDUniqueID, found: VHDUniqueID)
    /// The differencing chain refers back to one of its own images.
    case parentCycle(path: String)
    /// A request the image cannot serve (wrong disk type for the operation, bad option, …).
    case invalidRequest(String)
    /// A problem of an image further up a differencing chain: `path` is that image, `error`
    /// what is wrong with its link to its own parent.
    indirect case inParent(path: String, error: VHDError)

    /// Whether the problem lies in the link to a parent (a file not found, not matching, a
    /// cycle, or damage further up the chain) rather than in this file's own structures.
    var concernsParentLink: Bool {
        switch self {
        case .parentNotFound, .parentMismatch, .parentCycle, .inParent: return true
        default: return false
        }
    }

    /// A one-line English description; format problems start with the field at fault.
    public var description: String {
        switch self {
        case let .device(error):
            return error.description
        case let .truncated(structure, needed, fileSize) where structure == "footer":
            return "not a VHD image (\(fileSize) bytes: too small for a \(needed)-byte footer)"
        case let .truncated(structure, needed, fileSize):
            return "file too small for the \(structure): needs \(needed) bytes, file has \(fileSize)"
        case let .badCookie(field, expected, found) where field == "footer.cookie":
            return "not a VHD image (no footer cookie: expected \"\(expected)\", found \"\(found)\")"
        case let .badCookie(field, expected, found):
            return "\(field): expected \"\(expected)\", found \"\(found)\""
        case let .badChecksum(field, stored, computed):
            return "\(field): stored 0x\(hex(stored)), computed 0x\(hex(computed))"
        case let .invalidField(field, value, reason):
            return "\(field) = \(value) (0x\(String(value, radix: 16))): \(reason)"
        case let .batEntryOutsideFile(block, offset, end, fileSize):
            return
                "bat[\(block)]: block at bytes \(offset)-\(end - 1) lies past the end of the file (\(fileSize) bytes)"
        case let .batEntryInMetadata(block, offset, metadataEnd):
            return "bat[\(block)]: block at \(offset) overlaps image metadata (which ends at \(metadataEnd))"
        case let .batEntriesOverlap(block, otherBlock, offset):
            return "bat[\(block)]: block at \(offset) overlaps the block of bat[\(otherBlock)]"
        case let .locatorOutsideFile(index, offset, length, fileSize):
            return
                "header.parentLocator[\(index)]: \(length) bytes at \(offset) lie past the end of the file (\(fileSize) bytes)"
        case let .parentNotFound(tried):
            return "parent image not found (tried: \(tried.isEmpty ? "no locator" : tried.joined(separator: ", ")))"
        case let .parentMismatch(path, expected, found):
            return "parent \(path) has unique id \(found), the child expects \(expected)"
        case let .parentCycle(path):
            return "differencing chain loops back to \(path)"
        case let .invalidRequest(message):
            return message
        case let .inParent(path, error):
            return "\(path) (up the chain): \(error)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// Runs `body`, turning a `BlockDeviceError` into ``VHDError/device(_:)``.
@inline(__always)
func lifting<T>(_ body: () throws(BlockDeviceError) -> T) throws(VHDError) -> T {
    do { return try body() } catch { throw .device(error) }
}
