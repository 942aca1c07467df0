#if canImport(Glibc)
    import BlockStorage
    import Glibc
#endif

/// Finding and describing the parent of a differencing disk.
public enum ParentLink {
    /// One way the child names its parent, decoded.
    public struct Candidate: Equatable, Sendable {
        /// Where the name came from (`W2ru`, `W2ku`, `MacX`, `parentName`).
        public let source: String
        /// The path as stored, decoded to text.
        public let stored: String
        /// The path on this system (relative names resolved against the child's directory),
        /// nil when it cannot name a file here (a Windows drive letter).
        public let path: String?
    }

    /// Reads the locators of `header` (in the order `W2ru`, `W2ku`, `MacX`) and the parent
    /// name, and turns each into a candidate path.
    public static func candidates(for header: VHDDynamicHeader, io: any ImageIO, childPath: String) throws(VHDError)
        -> [Candidate]
    {
        let directory = directoryName(childPath)
        var result: [Candidate] = []
        let order: [UInt32] = [ParentLocatorEntry.w2ru, ParentLocatorEntry.w2ku, ParentLocatorEntry.macX]
        for code in order {
            for (i, entry) in header.locators.enumerated() where entry.platformCode == code {
                let length = UInt64(entry.dataLength)
                let fileSize = try lifting { () throws(BlockDeviceError) in try io.size() }
                guard length <= maximumLocatorLength, entry.dataOffset <= fileSize,
                    length <= fileSize - entry.dataOffset
                else {
                    throw .locatorOutsideFile(index: i, offset: entry.dataOffset, length: length, fileSize: fileSize)
                }
                let data = try lifting { () throws(BlockDeviceError) in
                    try io.readBytes(at: entry.dataOffset, count: Int(length))
                }
                if code == ParentLocatorEntry.macX {
                    let url = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                    var path = url.hasPrefix("file://") ? String(url.dropFirst(7)) : url
                    if path.hasPrefix("localhost/") { path = String(path.dropFirst(9)) }
                    path = percentDecoded(path)
                    result.append(
                        Candidate(source: "MacX", stored: url, path: path.hasPrefix("/") ? path : join(directory, path))
                    )
                } else {
                    var units: [UInt16] = []
                    var j = 0
                    while j + 1 < data.count {
                        let unit = UInt16(data[j]) | UInt16(data[j + 1]) << 8
                        if unit == 0 { break }
                        units.append(unit)
                        j += 2
                    }
                    let stored = String(decoding: units, as: UTF16.self)
                    result.append(
                        Candidate(
                            source: code == ParentLocatorEntry.w2ru ? "W2ru" : "W2ku", stored: stored,
                            path: localPath(windows: stored, directory: directory)))
                }
            }
        }
        if !header.parentName.isEmpty {
            let name =
                header.parentName.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init)
                ?? header.parentName
            result.append(Candidate(source: "parentName", stored: header.parentName, path: join(directory, name)))
        }
        return result
    }

    /// Opens the parent of a differencing disk: the first candidate that is a VHD whose unique
    /// id matches the header's parent id. A candidate with another id is skipped; if no
    /// candidate matches, the mismatch (or, when nothing was found, the list of paths tried) is
    /// the error. `detached`: the parent is opened for inspection (its own parent may be
    /// missing). Parents are opened read-only and locked shared (`.forceShare` and `.off`
    /// pass on to them); a parent in use by a writer stops the search with that error.
    static func open(
        for header: VHDDynamicHeader, io: any ImageIO, childPath: String, visited: Set<FileIdentity>,
        detached: Bool = false, locking: ImageLocking = .automatic
    ) throws(VHDError) -> (image: VHDImage, path: String) {
        var tried: [String] = []
        var mismatch: VHDError?
        var unusable: VHDError?
        var seen: Set<String> = []
        for candidate in try candidates(for: header, io: io, childPath: childPath) {
            guard let path = candidate.path else {
                tried.append("\(candidate.source) \(candidate.stored) (not a local path)")
                continue
            }
            // One file, one try: spellings that differ only by doubled slashes or `.` components
            // (a W2ku path is stored normalised, W2ru resolved against the child's path as
            // given) are the same candidate. `..` is kept: through a symbolic link it may lead
            // elsewhere.
            if !seen.insert(spellingKey(path)).inserted { continue }
            guard access(path, F_OK) == 0 else {
                tried.append("\(candidate.source) \(path)")
                continue
            }
            let parent: VHDImage
            do {
                parent = try VHDImage.open(
                    path: path, readOnly: true, visited: visited, detached: detached, locking: locking)
            } catch {
                // A cycle is final, and so is a parent in use (the user must see that, not a
                // "not found"). A candidate that does not open may just be the wrong file:
                // try the others, and report it only if none fits.
                if case .parentCycle = error { throw error }
                if case .device(.locked) = error { throw error }
                // A candidate whose own parent link is broken is the right file with a problem
                // further up: say which image it is in.
                if unusable == nil { unusable = error.concernsParentLink ? .inParent(path: path, error: error) : error }
                continue
            }
            if parent.footer.uniqueID == header.parentUniqueID {
                return (parent, path)
            }
            if mismatch == nil {
                mismatch = .parentMismatch(path: path, expected: header.parentUniqueID, found: parent.footer.uniqueID)
            }
        }
        if let mismatch { throw mismatch }
        if let unusable { throw unusable }
        throw .parentNotFound(tried: tried)
    }

    /// The locator entries and their data for a child at `childPath` whose parent is at
    /// `parentPath`: `W2ru` (relative), `W2ku` (absolute), both UTF-16LE with backslashes,
    /// and `MacX` (a `file://` URL).
    static func locatorData(childPath: String, parentPath: String) -> [(code: UInt32, data: [UInt8])] {
        let absoluteParent = absolutePath(parentPath)
        let relative = relativePath(from: directoryName(absolutePath(childPath)), to: absoluteParent)
        func utf16le(_ text: String) -> [UInt8] {
            var bytes: [UInt8] = []
            for unit in text.utf16 { bytes.append(UInt8(unit & 0xFF)); bytes.append(UInt8(unit >> 8)) }
            return bytes
        }
        let windowsRelative = relative.hasPrefix("../") ? relative : "./" + relative
        return [
            (ParentLocatorEntry.w2ru, utf16le(windowsRelative.replacingSlashes())),
            (ParentLocatorEntry.w2ku, utf16le(absoluteParent.replacingSlashes())),
            (ParentLocatorEntry.macX, Array(("file://" + percentEncoded(absoluteParent)).utf8)),
        ]
    }

    // MARK: Path helpers

    static func join(_ directory: String, _ name: String) -> String {
        if name.hasPrefix("/") { return name }
        var rest = Substring(name)
        while rest.hasPrefix("./") { rest = rest.dropFirst(2) }
        return directory == "." ? String(rest) : (directory.hasSuffix("/") ? directory : directory + "/") + rest
    }

    static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return normalized(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return normalized(cwd + "/" + path)
    }

    /// `path` without doubled slashes and `.` components (`..` kept), to recognise two
    /// spellings of one candidate.
    static func spellingKey(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// Removes `.` and `..` components and doubled slashes from an absolute path.
    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func relativePath(from directory: String, to target: String) -> String {
        let from = directory.split(separator: "/")
        let to = target.split(separator: "/")
        var common = 0
        while common < from.count, common < to.count - 1, from[common] == to[common] { common += 1 }
        let ups = Array(repeating: "..", count: from.count - common)
        return (ups + to[common...].map(String.init)).joined(separator: "/")
    }

    /// A Windows path from a locator as a path on this system, or nil for a drive-letter path.
    static func localPath(windows stored: String, directory: String) -> String? {
        let path = stored.replacingOccurrences(of: "\\", with: "/")
        let scalars = Array(path.unicodeScalars)
        if scalars.count >= 2, scalars[1] == ":" { return nil }
        return path.hasPrefix("/") ? path : join(directory, path)
    }

    static func percentEncoded(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            let c = Unicode.Scalar(byte)
            if (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || "/-._~".unicodeScalars.contains(c)
            {
                out.unicodeScalars.append(c)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%"), i + 2 < utf8.count,
                let v = UInt8(String(decoding: utf8[i + 1...i + 2], as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }

    func replacingSlashes() -> String { replacingOccurrences(of: "/", with: "\\") }
}
