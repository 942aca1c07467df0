import ArgumentParser
import BlockStorage
import ExampleSupport
import VHD

#if canImport(Glibc)
    import Glibc
#endif

/// `vhd`: create, inspect, check, read, write and maintain VHD images.
@main
struct VHDTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vhd",
        abstract: "Create, inspect, check and maintain VHD (Virtual Hard Disk) images.",
        discussion: """
            Sizes and offsets accept the binary suffixes K, M, G and T (or KiB, MiB, GiB, TiB). Exit \
            status: 0 on success, 1 on any failure or when check finds a problem, 64 on a usage error. \
            With --json, info, check and map print one JSON document on standard output, an \
            {"file", "error"} object when they fail ({"error"} with "usage": true on a usage error). \
            Images are locked as QEMU locks them; -U reads one another program is writing.
            """,
        version: "0.2.0-dev (swift-vmm)",
        subcommands: [
            Create.self, Info.self, Check.self, MapCommand.self, Read.self, Write.self, Convert.self,
            Compact.self, Resize.self, Commit.self,
        ]
    )

    /// ArgumentParser's main, with two additions for usage errors (exit 64): a mistyped
    /// subcommand gets a suggestion, and with `--json` the error is also one JSON document on
    /// standard output, so that a script parsing it never reads nothing.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }  // help, version
            var message = fullMessage(for: error)
            if let word = arguments.first, !word.hasPrefix("-"), let suggestion = suggestedSubcommand(for: word) {
                message = """
                    Error: unknown subcommand '\(word)'; did you mean '\(suggestion)'?
                    Usage: vhd <subcommand>
                      See 'vhd --help' for more information.
                    """
            }
            printError(message)
            if arguments.contains("--json") {
                let first = String(message.prefix { $0 != "\n" })
                let text = first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
                print(JSON.object([("error", .object([("message", .string(text)), ("usage", .bool(true))]))]).rendered)
            }
            exit(withError: ExitCode.validationFailure)
        }
        do {
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    /// The subcommand `word` was probably meant to be: the one at the smallest edit distance,
    /// if that is at most 2 (a typo, a swapped pair) and less than the word's length; `nil`
    /// for a known subcommand or nothing close.
    static func suggestedSubcommand(for word: String) -> String? {
        let names = configuration.subcommands.map { $0._commandName }
        guard !names.contains(word) else { return nil }
        let scored = names.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (name, distance) = scored, distance <= 2, distance < word.count else { return nil }
        return name
    }

    /// The Damerau–Levenshtein distance (optimal string alignment) between `a` and `b`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        guard !x.isEmpty, !y.isEmpty else { return max(x.count, y.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}

/// A subcommand working on one file: failures become `vhd: FILE: problem` on stderr, exit 1;
/// with `--json`, also one `{"file": FILE, "error": {"message": …}}` document on stdout.
protocol FileCommand: ParsableCommand {
    /// The file named in error messages.
    var subject: String { get }
    /// Whether the command prints JSON (then a failure prints a JSON error object too).
    var jsonOutput: Bool { get }
    /// What to tell a user whose image is in use (nil: nothing to suggest).
    func forceShareHint(for conflict: ImageLockConflict) -> String?
    func execute() throws
}

extension FileCommand {
    var jsonOutput: Bool { false }

    func run() throws {
        do {
            try execute()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            // A failure that belongs to another file than the command's own names that file:
            // a parent or destination, or whichever image of a chain is in use.
            var (file, reason): (String, any Error) =
                (error as? FileFailure).map { ($0.file, $0.reason) } ?? (subject, error)
            if let conflict = lockConflict(in: reason) {
                file = conflict.path
                if let hint = forceShareHint(for: conflict) { reason = ToolError("\(conflict); \(hint)") }
            }
            printError("vhd: \(file): \(reason)")
            if jsonOutput {
                print(
                    JSON.object([
                        ("file", .string(file)), ("error", .object([("message", .string("\(reason)"))])),
                    ]).rendered)
            }
            throw ExitCode(1)
        }
    }
}

/// The lock conflict an error carries, if it is one (see BlockStorage's `ImageLocking`).
func lockConflict(in error: any Error) -> ImageLockConflict? {
    switch error {
    case VHDError.device(.locked(let conflict)): conflict
    case BlockDeviceError.locked(let conflict): conflict
    case let failure as FileFailure: lockConflict(in: failure.reason)
    default: nil
    }
}

/// `-U` / `--force-share`, as qemu-img has it: open an image another program is writing, for
/// reading only.
struct ShareMode: ParsableArguments {
    @Flag(
        name: [.customShort("U"), .customLong("force-share")],
        help: "Open the image even while another program writes it (read-only; what is read may be changing).")
    var forceShare = false

    init() {}

    /// The locking the command's opens use.
    var locking: ImageLocking { forceShare ? .forceShare : .automatic }
}

extension FileCommand {
    /// Nothing to suggest: the command writes.
    func forceShareHint(for conflict: ImageLockConflict) -> String? { nil }
}

/// A failure of a file other than the command's own subject (a parent, a destination).
struct FileFailure: Error {
    let file: String
    let reason: any Error
}

struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: create

struct Create: FileCommand {
    static let configuration = CommandConfiguration(abstract: "Create a fixed, dynamic or differencing image.")

    @Argument(help: "The image to create; an existing file is replaced only once the new image is complete.")
    var file: String
    @Option(parsing: .unconditional, help: "Disk size (e.g. 10G); not with --parent.", transform: ByteCount.argument)
    var size: ByteCount?
    @Option(help: "fixed or dynamic (default dynamic); not with --parent.") var type: DiskKind?
    @Option(
        name: .customLong("block-size"), parsing: .unconditional, help: "Block size of a dynamic disk (default 2M).",
        transform: ByteCount.argument) var blockSize: ByteCount?
    @Option(help: "Create a differencing disk on top of this parent image.") var parent: String?
    @Flag(name: .customLong("align-mib"), help: "Round the size up to a whole MiB (Azure requires it of fixed disks).")
    var alignMiB = false
    @Option(
        name: .customLong("creator-app"),
        help: "Creator application: up to 4 characters (padded with spaces) or 0xNNNNNNNN (default \"win \").")
    var creatorApp: FourCC?
    @Option(name: .customLong("creator-version"), help: "Creator version: MAJOR.MINOR or 0xNNNNNNNN (default 10.0).")
    var creatorVersion: CreatorVersion?
    @Option(
        name: .customLong("host-os"),
        help: "Creator host OS: up to 4 characters (e.g. Wi2k, \"Mac \") or 0xNNNNNNNN (default Wi2k).") var hostOS:
        FourCC?
    @Option(name: .customLong("unique-id"), help: "Unique id as a UUID in on-disk byte order (default: random).")
    var uniqueID: UniqueIDArgument?

    enum DiskKind: String, ExpressibleByArgument, CaseIterable { case fixed, dynamic }

    var subject: String { file }

    func validate() throws {
        if parent != nil {
            if size != nil || blockSize != nil || type != nil {
                throw ValidationError(
                    "--size, --block-size and --type do not apply to a differencing disk (--parent): it takes its parent's"
                )
            }
        } else if size == nil {
            throw ValidationError("--size is required (or --parent, for a differencing disk)")
        }
        if let blockSize, blockSize.value > UInt64(UInt32.max) {
            throw ValidationError("--block-size \(blockSize.value) is larger than a VHD block can be (1 GiB)")
        }
    }

    func execute() throws {
        if let parent {
            // The parent is checked first, so that its problem is reported under its name.
            do { _ = try VHDImage.open(path: parent, readOnly: true) } catch {
                throw FileFailure(file: parent, reason: error)
            }
            var options = VHDDifferencingOptions()
            if let creatorApp { options.creatorApplication = creatorApp.value }
            if let creatorVersion { options.creatorVersion = creatorVersion.value }
            if let hostOS { options.creatorHostOS = hostOS.value }
            options.uniqueID = uniqueID?.value
            _ = try VHDImage.createDifferencing(path: file, parentPath: parent, options: options)
            return
        }
        guard let size else { throw ValidationError("--size is required") }  // validate() saw to it
        var options = VHDCreateOptions(type: type == .fixed ? .fixed : .dynamic, size: size.value)
        options.alignToMiB = alignMiB
        if let creatorApp { options.creatorApplication = creatorApp.value }
        if let creatorVersion { options.creatorVersion = creatorVersion.value }
        if let hostOS { options.creatorHostOS = hostOS.value }
        options.uniqueID = uniqueID?.value
        if let blockSize { options.blockSize = UInt32(blockSize.value) }
        _ = try VHDImage.create(path: file, options: options)
    }
}

// MARK: info

struct Info: FileCommand {
    static let configuration = CommandConfiguration(abstract: "Show the type, size, ids and parent chain of an image.")

    @Argument(help: "The VHD image to describe.") var file: String
    @Flag(help: jsonHelp) var json = false
    @OptionGroup var share: ShareMode

    var subject: String { file }
    var jsonOutput: Bool { json }
    func forceShareHint(for conflict: ImageLockConflict) -> String? { shareHint }

    func execute() throws {
        // Opened without requiring the parent: the child's own information is shown even when
        // the chain is broken, and the break is reported.
        let image = try VHDImage.openForInspection(path: file, locking: share.locking)
        let fileSize = try image.io.size()
        var chain: [JSON] = []
        var link = image.parent
        var chainProblem = image.parentError.map { "\(file): \($0)" }
        while let current = link {
            chain.append(
                .object([
                    ("file", .string(current.path)), ("type", .string(current.diskType.description)),
                    ("uniqueId", .string(current.footer.uniqueID.description)),
                ]))
            if let error = current.parentError { chainProblem = "\(current.path): \(error)" }
            link = current.parent
        }
        let f = image.footer
        let fields: [(String, JSON)] = [
            ("file", .string(file)),
            ("type", .string(image.diskType.description)),
            ("virtualSize", .number(image.capacity)),
            ("fileSize", .number(fileSize)),
            ("blockSize", image.header.map { .number(UInt64($0.blockSize)) } ?? .null),
            ("uniqueId", .string(f.uniqueID.description)),
            (
                "parentUniqueId",
                image.diskType == .differencing ? .optional(image.header?.parentUniqueID.description) : .null
            ),
            ("parentPath", .optional(image.parentPath)),
            ("parentName", image.diskType == .differencing ? .optional(image.header?.parentName) : .null),
            ("creatorApplication", .string(fourCCText(f.creatorApplication))),
            ("creatorVersion", .number(UInt64(f.creatorVersion))),
            ("creatorHostOS", .string(fourCCText(f.creatorHostOS))),
            ("timestamp", .number(UInt64(f.timestamp) + VHDTimestamp.epochOffset)),
            (
                "geometry",
                .object([
                    ("cylinders", .number(UInt64(f.geometry.cylinders))), ("heads", .number(UInt64(f.geometry.heads))),
                    ("sectorsPerTrack", .number(UInt64(f.geometry.sectorsPerTrack))),
                ])
            ),
            ("maxTableEntries", image.header.map { .number(UInt64($0.maxTableEntries)) } ?? .null),
            ("allocatedBlocks", image.header == nil ? .null : .number(UInt64(image.allocatedBlockCount))),
            ("chain", .array(chain)),
            ("parentProblem", .optional(chainProblem)),
            ("problems", .array(image.openProblems.map { .string($0.description) })),
        ]
        if json {
            print(JSON.object(fields).rendered)
            return
        }
        print("file:               \(file)")
        print("type:               \(image.diskType)")
        print("virtual size:       \(image.capacity) bytes (\(humanSize(image.capacity)))")
        print("file size:          \(fileSize) bytes")
        if let header = image.header {
            print("block size:         \(header.blockSize) bytes")
            print("allocated blocks:   \(image.allocatedBlockCount) of \(header.maxTableEntries)")
        }
        print("unique id:          \(f.uniqueID)")
        print(
            "creator:            \(fourCCText(f.creatorApplication)) \(f.creatorVersion >> 16).\(f.creatorVersion & 0xFFFF) on \(fourCCText(f.creatorHostOS))"
        )
        print("geometry (C/H/S):   \(f.geometry)")
        if image.diskType == .differencing, let header = image.header {
            print("parent unique id:   \(header.parentUniqueID)")
            print("parent name:        \(header.parentName)")
            print("parent path:        \(image.parentPath ?? "-")")
            for (depth, item) in chain.enumerated() { print("chain[\(depth + 1)]:           \(item.rendered)") }
            if let chainProblem { print("parent problem:     \(chainProblem)") }
        }
        for problem in image.openProblems { print("problem:            \(problem)") }
    }
}

func humanSize(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    let rounded = (value * 10).rounded() / 10
    return "\(rounded) \(units[unit])"
}

// MARK: check

struct Check: FileCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every structural rule; optionally repair what has a redundant copy.")

    @Argument(help: "The VHD image to check (and repair).") var file: String
    @Flag(
        help:
            "Restore a damaged footer from its copy and drop BAT entries outside the file; exits 1 and lists the disk ranges if that drops data."
    ) var repair = false
    @Flag(help: jsonHelp) var json = false
    @OptionGroup var share: ShareMode

    var subject: String { file }
    var jsonOutput: Bool { json }
    func forceShareHint(for conflict: ImageLockConflict) -> String? { repair ? nil : shareHint }

    func validate() throws {
        if repair && share.forceShare { throw ValidationError("--repair writes the image: it cannot share it (-U)") }
    }

    func execute() throws {
        let report = try VHDImage.check(path: file, repair: repair, locking: share.locking)
        func item(_ p: VHDProblem) -> JSON {
            .object([("severity", .string(p.severity.rawValue)), ("message", .string(p.error.description))])
        }
        if json {
            print(
                JSON.object([
                    ("file", .string(file)),
                    ("type", .optional(report.diskType?.description)),
                    ("clean", .bool(report.isClean)),
                    ("problems", .array(report.problems.map(item))),
                    ("repaired", .array(report.repaired.map(item))),
                    ("repairWithheld", .bool(report.repairWithheld)),
                    (
                        "lost",
                        .array(
                            report.lost.map {
                                .object([("offset", .number($0.offset)), ("length", .number($0.length))])
                            })
                    ),
                ]).rendered)
        } else {
            for p in report.repaired { print("\(file): repaired: \(p.error)") }
            for range in report.lost { print("\(file): data lost: disk bytes \(range)") }
            if report.repairWithheld {
                print("\(file): not repaired: a fatal problem below cannot be repaired, so nothing was written")
            }
            for p in report.problems { print("\(file): \(p)") }
            if report.isClean { print("\(file): no problems found") }
        }
        var failure: String?
        if !report.lost.isEmpty {
            let bytes = report.lost.reduce(0) { $0 + $1.length }
            let ranges = report.lost.count == 1 ? "1 range" : "\(report.lost.count) ranges"
            failure =
                "the repair dropped \(bytes) bytes of disk data in \(ranges) (listed in the report); they now read as zeros, or as the parent's data"
        } else if !report.isClean {
            let count = report.problems.filter { $0.severity != .notice }.count
            failure =
                "\(count) problem\(count == 1 ? "" : "s") found\(report.problems.first.map { " (first: \($0.error))" } ?? "")"
        }
        guard let failure else { return }
        // With --json the report above is the one document on stdout: the summary goes to
        // stderr only.
        if json {
            printError("vhd: \(file): \(failure)")
            throw ExitCode(1)
        }
        throw ToolError(failure)
    }
}

// MARK: map

struct MapCommand: FileCommand {
    static let configuration = CommandConfiguration(
        commandName: "map", abstract: "List the extents of disk data stored in the file.")

    @Argument(help: "The VHD image whose stored extents to list (its parent is not needed).") var file: String
    @Flag(help: jsonHelp) var json = false
    @OptionGroup var share: ShareMode

    var subject: String { file }
    var jsonOutput: Bool { json }
    func forceShareHint(for conflict: ImageLockConflict) -> String? { shareHint }

    func execute() throws {
        // This layer's extents only: the parent is not needed.
        let image = try VHDImage.openForInspection(path: file, locking: share.locking)
        let extents = try image.storedExtents()
        if json {
            print(
                JSON.object([
                    ("file", .string(file)),
                    ("type", .string(image.diskType.description)),
                    ("virtualSize", .number(image.capacity)),
                    (
                        "extents",
                        .array(
                            extents.map {
                                .object([
                                    ("offset", .number($0.offset)), ("length", .number($0.length)),
                                    ("fileOffset", .number($0.fileOffset)),
                                ])
                            })
                    ),
                ]).rendered)
            return
        }
        print("offset length file-offset")
        for e in extents { print("\(e.offset) \(e.length) \(e.fileOffset)") }
    }
}

// MARK: read / write

struct Read: FileCommand {
    static let configuration = CommandConfiguration(abstract: "Write disk bytes to standard output.")

    @Argument(help: "The image (VHD or raw) to read.") var file: String
    @Option(parsing: .unconditional, help: "Disk offset of the first byte (e.g. 1M).", transform: ByteCount.argument)
    var offset: ByteCount
    @Option(parsing: .unconditional, help: "Number of bytes to read (e.g. 4K).", transform: ByteCount.argument)
    var length: ByteCount
    @Option(name: [.customShort("f"), .customLong("format")], help: imageKindHelp) var format: ImageKind = .auto
    @OptionGroup var share: ShareMode

    var subject: String { file }
    func forceShareHint(for conflict: ImageLockConflict) -> String? { shareHint }

    func execute() throws {
        let image = try openImage(path: file, as: format, locking: share.locking)
        try image.checkRange(offset: offset.value, length: length.value)
        var position = offset.value
        let end = offset.value + length.value
        while position < end {
            let n = Int(min(1 << 20, end - position))
            let bytes = try image.read(at: position, length: n)
            guard bytes.withUnsafeBytes(writeStandardOutput) else { throw ToolError("cannot write to standard output") }
            position += UInt64(n)
        }
    }
}

struct Write: FileCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write standard input to the disk at an offset, then flush.")

    @Argument(help: "The image (VHD or raw) to write.") var file: String
    @Option(
        parsing: .unconditional, help: "Disk offset where standard input's first byte goes (e.g. 1M).",
        transform: ByteCount.argument)
    var offset: ByteCount
    @Option(name: [.customShort("f"), .customLong("format")], help: imageKindHelp) var format: ImageKind = .auto

    var subject: String { file }

    func execute() throws {
        let image = try openImage(path: file, readOnly: false, as: format)
        let data = readStandardInput()
        try image.write(data, at: offset.value)
        try image.flush()
    }
}

// MARK: convert / compact / resize / commit

struct Convert: FileCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a raw or VHD image (flattening a differencing chain) into a new raw, fixed or dynamic image.")

    @Argument(help: "The image to copy (raw or VHD of any type; a differencing chain is flattened).")
    var source: String
    @Argument(
        help: "The new image; an existing file is replaced only once the copy is complete, never the source itself.")
    var destination: String
    @Option(help: "raw, fixed or dynamic.") var to: ImageFormat
    @Option(
        name: .customLong("block-size"), parsing: .unconditional, help: "Block size of a dynamic result (default 2M).",
        transform: ByteCount.argument) var blockSize: ByteCount?
    @Option(name: [.customShort("f"), .customLong("format")], help: imageKindHelp) var format: ImageKind = .auto

    @OptionGroup var progress: ProgressMode
    @OptionGroup var share: ShareMode

    var subject: String { source }
    func forceShareHint(for conflict: ImageLockConflict) -> String? {
        conflict.path == destination ? nil : shareHint  // -U never lets a file in use be replaced
    }

    func execute() throws {
        let input = try openImage(path: source, as: format, locking: share.locking)
        // The destination's directory must exist and take new files: otherwise the failure is
        // the destination's, not the source's.
        let directory = directoryName(destination)
        if access(directory, W_OK | X_OK) != 0 {
            throw FileFailure(
                file: destination,
                reason: ToolError("cannot create a file in \(directory): \(String(cString: strerror(errno)))"))
        }
        try withProgress("convert", mode: progress) { update in
            try convertImage(
                source: input, destination: destination, to: to,
                blockSize: UInt32(min(blockSize?.value ?? 2 << 20, UInt64(UInt32.max))), progress: update)
        }
    }
}

extension ImageFormat: ExpressibleByArgument {}
extension ImageKind: ExpressibleByArgument {}

/// The hint for a read-only command whose image (or a parent) is in use.
let shareHint = "-U (--force-share) reads it anyway"

/// Help for the `--json` flag.
let jsonHelp = ArgumentHelp(
    "Print one JSON document on standard output (keys documented in README.md); on failure {\"file\", \"error\"}.")

/// Help for the `--format` option of the commands that accept a raw image too.
let imageKindHelp = ArgumentHelp(
    "What the image is: auto (a VHD if it carries a VHD footer, else raw), raw or vhd. A raw disk whose last sector looks like a VHD footer needs raw."
)

struct Compact: FileCommand {
    static let configuration = CommandConfiguration(abstract: "Release unused blocks and shrink the file.")

    @Argument(help: "The dynamic or differencing image to compact.") var file: String
    @OptionGroup var progress: ProgressMode

    var subject: String { file }

    func execute() throws {
        let result = try withProgress("compact", mode: progress) { try VHDImage.compact(path: file, progress: $0) }
        print(
            "\(file): released \(result.blocksReleased) blocks, moved \(result.blocksMoved); \(result.fileSizeBefore) -> \(result.fileSizeAfter) bytes"
        )
    }
}

struct Resize: FileCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grow an image, or shrink it when nothing is stored past the new size.")

    @Argument(help: "The image to resize.") var file: String
    @Argument(
        parsing: .allUnrecognized,
        help: "The new size (e.g. 20G), or +SIZE / -SIZE to grow or shrink by that much, as qemu-img takes it.")
    var size: [String] = []

    var subject: String { file }

    /// The requested change: an absolute size, or a signed delta.
    enum Change {
        case to(UInt64)
        case grow(UInt64)
        case shrink(UInt64)
    }

    var change: Change? {
        guard size.count == 1, let text = size.first else { return nil }
        if text.hasPrefix("+") { return ByteCount.parse(String(text.dropFirst())).map(Change.grow) }
        if text.hasPrefix("-") { return ByteCount.parse(String(text.dropFirst())).map(Change.shrink) }
        return ByteCount.parse(text).map(Change.to)
    }

    func validate() throws {
        guard size.count == 1 else { throw ValidationError("give exactly one size (SIZE, +SIZE or -SIZE)") }
        guard change != nil else {
            throw ValidationError("'\(size[0])' is not a size (a number with K, M, G or T, optionally after + or -)")
        }
    }

    func execute() throws {
        // The current size is read only for a relative change.
        func currentSize() throws -> UInt64 { try VHDImage.open(path: file, readOnly: true).capacity }
        let target: UInt64
        switch change {
        case .to(let value): target = value
        case .grow(let delta):
            let current = try currentSize()
            let (sum, overflow) = current.addingReportingOverflow(delta)
            guard !overflow else { throw ToolError("growing \(current) bytes by \(delta) overflows") }
            target = sum
        case .shrink(let delta):
            let current = try currentSize()
            guard delta <= current else { throw ToolError("cannot shrink \(current) bytes by \(delta)") }
            target = current - delta
        case nil: throw ValidationError("no size")
        }
        try VHDImage.resize(path: file, to: target)
    }
}

struct Commit: FileCommand {
    static let configuration = CommandConfiguration(abstract: "Merge a differencing image into its parent.")

    @Argument(help: "The differencing image to merge into its parent (it is emptied afterwards).") var file: String
    @OptionGroup var progress: ProgressMode

    var subject: String { file }

    func execute() throws {
        let result = try withProgress("commit", mode: progress) { try VHDImage.commit(path: file, progress: $0) }
        print("\(file): committed \(result.bytes) bytes into \(result.parentPath)")
    }
}
