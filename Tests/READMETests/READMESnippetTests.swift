import Foundation
import Testing

/// Every ```swift block in README.md is the body of a compiled function in
/// Tests/READMETests/Snippets, character for character.
///
/// A snippet file holds the block's `import` lines at file level, then the comment
/// `// README snippet: <heading of the README section the block is in>` directly above one
/// function `func readmeSnippet<Name>() throws`, whose body is the rest of the block indented by
/// 4 spaces. The suite pairs blocks and files one to one: for each block (in README order)
/// exactly one file has the same imports and, de-indented, the same body (trailing whitespace
/// ignored, blank lines counted), under the same heading; a block without its file, and a file
/// without its block, fail with a message naming it. Since the target compiles every file, every
/// block compiles as written.
@Suite("README snippets are compiled as written")
struct READMESnippetTests {
    @Test("every swift block of README.md is exactly one snippet function body")
    func everySwiftBlockIsASnippet() throws {
        let blocks = try READMEBlock.all(in: READMEPaths.readme)
        let snippets = try SnippetFile.all(under: READMEPaths.snippets)
        #expect(!blocks.isEmpty, "README.md has no ```swift blocks")

        var matched = Set<String>()
        for block in blocks {
            let candidates = snippets.filter { $0.imports == block.imports && $0.body == block.body }
            guard candidates.count == 1, let snippet = candidates.first else {
                if candidates.isEmpty {
                    Issue.record("\(block): no snippet file has these imports and this body\(block.nearest(snippets))")
                } else {
                    Issue.record("\(block): \(candidates.count) snippet files match: \(candidates.map(\.name))")
                }
                continue
            }
            #expect(
                snippet.heading == block.heading,
                "\(snippet.name) is marked for '\(snippet.heading)', but its block is in '\(block.heading)'")
            matched.insert(snippet.name)
        }
        for snippet in snippets where !matched.contains(snippet.name) {
            Issue.record("\(snippet.name) (heading '\(snippet.heading)') matches no ```swift block of README.md")
        }
        #expect(
            blocks.count == snippets.count,
            "README.md has \(blocks.count) ```swift blocks, Tests/READMETests/Snippets \(snippets.count) snippet files")
    }
}

/// Where the README and the snippet files are, from this file's path.
enum READMEPaths {
    /// Tests/READMETests.
    static let testDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// The package's README.md (two directories up from Tests/READMETests).
    static let readme = testDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md")
    /// Tests/READMETests/Snippets.
    static let snippets = testDirectory.appendingPathComponent("Snippets")
}

/// Lines of a text file, without trailing whitespace (a final newline adds no line).
func textLines(of url: URL) throws -> [String] {
    var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    return lines.map(trimmingTrailingWhitespace)
}

func trimmingTrailingWhitespace(_ line: String) -> String {
    var line = Substring(line)
    while let last = line.last, last.isWhitespace { line.removeLast() }
    return String(line)
}

/// A ```swift block of README.md: its leading `import` lines, and the rest after any blank
/// lines that follow them.
struct READMEBlock: CustomStringConvertible {
    /// The heading text of the section the block is in (without the `#`s).
    var heading: String
    /// The line of the opening fence (1-based).
    var line: Int
    var imports: [String]
    var body: [String]

    var description: String { "README.md:\(line) (the ```swift block in '\(heading)')" }

    static func all(in readme: URL) throws -> [READMEBlock] {
        var blocks: [READMEBlock] = []
        var heading = "(before any heading)"
        var fence: (line: Int, isSwift: Bool, lines: [String])?
        for (index, line) in try textLines(of: readme).enumerated() {
            if line.hasPrefix("```") {
                if let open = fence {
                    if open.isSwift { blocks.append(READMEBlock(heading: heading, line: open.line, lines: open.lines)) }
                    fence = nil
                } else {
                    fence = (index + 1, line == "```swift", [])
                }
            } else if fence != nil {
                fence?.lines.append(line)
            } else if let text = headingText(line) {
                heading = text
            }
        }
        if let open = fence { Issue.record("README.md:\(open.line): a code fence is never closed") }
        return blocks
    }

    /// The text of a Markdown ATX heading line (`## Text`), or nil.
    static func headingText(_ line: String) -> String? {
        let hashes = line.prefix { $0 == "#" }
        guard (1...6).contains(hashes.count), line.dropFirst(hashes.count).first == " " else { return nil }
        return String(line.dropFirst(hashes.count + 1))
    }

    init(heading: String, line: Int, lines: [String]) {
        self.heading = heading
        self.line = line
        let imports = lines.prefix { $0.hasPrefix("import ") }
        self.imports = Array(imports)
        body = Array(lines.dropFirst(imports.count).drop { $0.isEmpty })
    }

    /// Where the snippet file of the same heading differs, to say what to fix.
    func nearest(_ snippets: [SnippetFile]) -> String {
        guard let snippet = snippets.first(where: { $0.heading == heading }) else {
            return " (and no snippet file is marked with this heading)"
        }
        if snippet.imports != imports {
            return "; \(snippet.name) has imports \(snippet.imports), the block \(imports)"
        }
        for (offset, (mine, theirs)) in zip(body, snippet.body).enumerated() where mine != theirs {
            return "; \(snippet.name) differs at body line \(offset + 1): README `\(mine)`, file `\(theirs)`"
        }
        return "; \(snippet.name)'s body has \(snippet.body.count) lines, the block \(body.count)"
    }
}

/// A file of Tests/READMETests/Snippets: imports, the marker comment, one function.
struct SnippetFile {
    /// The path below Tests/READMETests.
    var name: String
    var imports: [String]
    /// The heading named by the `// README snippet:` comment.
    var heading: String
    /// The function body, de-indented by 4 spaces.
    var body: [String]

    static let marker = "// README snippet: "

    static func all(under directory: URL) throws -> [SnippetFile] {
        guard let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
            Issue.record("cannot list \(directory.path)")
            return []
        }
        let urls = files.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        return try urls.sorted { $0.path < $1.path }.compactMap { try SnippetFile(url: $0) }
    }

    /// Parses a snippet file; records an issue naming it and returns nil when it is malformed.
    init?(url: URL) throws {
        let base = READMEPaths.testDirectory.path + "/"
        name = url.path.hasPrefix(base) ? String(url.path.dropFirst(base.count)) : url.path
        let lines = try textLines(of: url)
        let markers = lines.indices.filter { lines[$0].hasPrefix(Self.marker) }
        guard markers.count == 1, let marker = markers.first else {
            Issue.record("\(name): needs exactly one `\(Self.marker)<heading>` line, has \(markers.count)")
            return nil
        }
        heading = String(lines[marker].dropFirst(Self.marker.count))
        let header = lines[..<marker]
        imports = header.filter { $0.hasPrefix("import ") }
        if let stray = header.first(where: { !$0.isEmpty && !$0.hasPrefix("import ") && !$0.hasPrefix("//") }) {
            Issue.record("\(name): only imports and comments may precede the marker; found `\(stray)`")
            return nil
        }
        let signature = marker + 1
        guard signature < lines.count, lines[signature].hasPrefix("func readmeSnippet"),
            lines[signature].hasSuffix(") throws {")
        else {
            Issue.record("\(name): the line after the marker must be `func readmeSnippet<Name>() throws {`")
            return nil
        }
        guard let close = lines.lastIndex(of: "}"), close > signature,
            lines[(close + 1)...].allSatisfy(\.isEmpty)
        else {
            Issue.record("\(name): the function must end the file with a `}` line")
            return nil
        }
        var body: [String] = []
        for line in lines[(signature + 1)..<close] {
            guard line.isEmpty || line.hasPrefix("    ") else {
                Issue.record("\(name): body line not indented by 4 spaces: `\(line)`")
                return nil
            }
            body.append(String(line.dropFirst(line.isEmpty ? 0 : 4)))
        }
        self.body = body
    }
}
