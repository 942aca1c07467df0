// VHD throughput against a raw file and against `qemu-img bench` on the same kind of image.
// Every run ends with a flush. Run with `swift run -c release vhd-bench [--json] [--rounds N]`.
import ArgumentParser
import BenchmarkSupport
import BlockStorage
import Foundation
import VHD

struct VHDBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vhd-bench", abstract: "VHD throughput vs raw and qemu-img bench.")

    @OptionGroup var options: BenchmarkOptions
    @Option(help: "Directory for the scratch images (same file system for every run).") var directory = "/tmp"
    @Option(help: "MiB written per write run.") var mebibytes = 1024
    @Option(help: "Number of 4 KiB reads per read run.") var reads = 200_000
    @Option(help: "Image kinds to measure, comma-separated (raw, fixed, dynamic).", transform: Self.parseKinds)
    var kinds: [Kind] = Kind.allCases
    @Flag(help: "Leave qemu-img bench out (e.g. to profile swift-vmm alone).") var noQemu = false
    @Option(help: "swift-vmm's write-behind window in KiB for raw and VHD alike (0: off; default: FileImageIO's).")
    var writeBehind: UInt64?
    @Option(
        help: "File alignment of dynamic images' block data in KiB (default: VHDImage's, 256 KiB for 2 MiB blocks).")
    var dataAlignment: UInt64?

    enum Kind: String, CaseIterable { case raw, fixed, dynamic }

    /// The write-behind window in bytes (0: off).
    var writeBehindBytes: UInt64 { writeBehind.map { $0 << 10 } ?? FileImageIO.defaultWriteBehind }
    /// Dynamic images' data alignment in bytes, when the option overrides VHDImage's default.
    var dataAlignmentBytes: UInt64? { dataAlignment.map { $0 << 10 } }

    static func parseKinds(_ text: String) throws -> [Kind] {
        try text.split(separator: ",").map {
            guard let kind = Kind(rawValue: String($0)) else { throw ValidationError("unknown image kind '\($0)'") }
            return kind
        }
    }

    func run() throws {
        let rounds = options.rounds ?? 5
        let size = UInt64(mebibytes) << 20
        let qemu = !noQemu && FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-img")
        var results: [String: [Double]] = [:]
        var usedAlignment: UInt64?
        let buffer = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }

        // Round 0 warms the page cache and file system up and is not recorded. Within a round,
        // each measurement of ours is followed by the same measurement of qemu-img bench.
        for round in 0...rounds {
            func record(_ key: String, _ seconds: Double) { if round > 0 { results[key, default: []].append(seconds) } }
            // One set of random read offsets per round, shared by every image kind.
            var generator = SystemRandomNumberGenerator()
            let offsets = (0..<reads).map { _ in UInt64.random(in: 0..<(size / 4096), using: &generator) * 4096 }
            for kind in kinds {
                let ours = directory + "/vhd-bench-ours.\(kind.rawValue)"
                let theirs = directory + "/vhd-bench-qemu.\(kind.rawValue)"
                unlink(ours)
                unlink(theirs)
                let device: any BlockDevice
                switch kind {
                case .raw: device = try RawImage(creating: ours, size: size, writeBehind: writeBehindBytes)
                case .fixed, .dynamic:
                    let io = try FileImageIO(
                        path: ours, readOnly: false, create: true, truncate: true, writeBehind: writeBehindBytes)
                    let image = try VHDImage.create(
                        io: io, path: ours,
                        options: VHDCreateOptions(type: kind == .fixed ? .fixed : .dynamic, size: size))
                    if kind == .dynamic {
                        if let dataAlignmentBytes { try image.setDataAlignment(dataAlignmentBytes) }
                        usedAlignment = image.dataAlignment
                    }
                    device = image
                }
                let fmt = kind == .raw ? "raw" : "vpc"
                if qemu {
                    let format =
                        kind == .raw ? ["-f", "raw"] : ["-f", "vpc", "-o", "subformat=\(kind.rawValue),force_size=on"]
                    _ = try shell("qemu-img", ["create", "-q"] + format + [theirs, "\(mebibytes)M"])
                }
                for scenario in ["first touch", "overwrite"] {
                    let ns = try timeNanoseconds {
                        try buffer.withUnsafeBytes { b in
                            for i in 0..<UInt64(mebibytes) { try device.write(b, at: i << 20) }
                        }
                        try device.flush()
                    }
                    record("\(scenario)|\(kind)|ours", Double(ns) / 1e9)
                    if scenario == "overwrite", kind == .dynamic,
                        let control = (device as? VHDImage).flatMap({ LayoutControl($0, path: ours) })
                    {
                        record(
                            "overwrite|control|ours",
                            Double(
                                try control.timeOverwrite(buffer, mebibytes: mebibytes, writeBehind: writeBehindBytes))
                                / 1e9)
                    }
                    if qemu {
                        let count = "\(mebibytes)"
                        let run = try qemuBench([
                            "-f", fmt, "-w", "-c", count, "-s", "1M", "-d", "1", "-t", "writeback",
                            "--flush-interval=\(count)", theirs,
                        ])
                        record("\(scenario)|\(kind)|qemu", run.wall)
                        record("\(scenario)|\(kind)|qemu-reported", run.reported)
                    }
                }
                var page = [UInt8](repeating: 0, count: 4096)
                if kind == .dynamic, let control = (device as? VHDImage).flatMap({ LayoutControl($0, path: ours) }) {
                    record("4 KiB random reads|control|ours", Double(try control.timeReads(offsets, into: &page)) / 1e9)
                }
                let ns = try timeNanoseconds {
                    try page.withUnsafeMutableBytes { p in
                        for offset in offsets { try device.read(into: p, at: offset) }
                    }
                }
                record("4 KiB random reads|\(kind)|ours", Double(ns) / 1e9)
                if qemu {
                    record(
                        "4 KiB random reads|\(kind)|qemu",
                        try qemuBench(["-f", fmt, "-c", "\(reads)", "-s", "4K", "-d", "1", "-t", "writeback", theirs])
                            .wall)
                }
                unlink(ours)
                unlink(theirs)
            }
        }

        var report = BenchmarkReport(
            title:
                "VHD: \(mebibytes) MiB of 1 MiB writes (each run ends with a flush), \(reads) reads of 4 KiB; median of \(rounds) rounds after a warm-up round, seconds; ratios are medians of per-round ratios",
            columns: ["scenario", "image", "swift-vmm", "qemu-img bench", "vs raw (swift-vmm)", "qemu / swift-vmm"])
        // Ratios are medians of per-round ratios: each round measures the two back to back,
        // which cancels most of the drift of a shared disk between rounds.
        func perRoundRatios(_ numerator: String, _ denominator: String) -> Summary? {
            guard let top = results[numerator], let bottom = results[denominator], top.count == bottom.count else {
                return nil
            }
            return Summary(zip(top, bottom).map { $0 / $1 })
        }
        for scenario in ["first touch", "overwrite", "4 KiB random reads"] {
            for kind in kinds {
                let key = "\(scenario)|\(kind)"
                guard let ours = results["\(key)|ours"].map({ Summary($0).median }) else { continue }
                let theirs = results["\(key)|qemu"].map { Summary($0).median }
                report.add([
                    .text(scenario), .text(kind.rawValue), .number(ours, decimals: 3),
                    theirs.map { .number($0, decimals: 3) } ?? .text("n/a"),
                    perRoundRatios("\(key)|ours", "\(scenario)|raw|ours").map { .number($0.median, decimals: 2) }
                        ?? .text("n/a"),
                    perRoundRatios("\(key)|qemu", "\(key)|ours").map { .number($0.median, decimals: 2) }
                        ?? .text("n/a"),
                ])
            }
        }
        report.note(
            writeBehindBytes == 0
                ? "swift-vmm write-behind: off (raw and VHD)"
                : "swift-vmm write-behind: writeback started every \(writeBehindBytes >> 10) KiB written, raw and VHD alike (FileImageIO; --write-behind 0 turns it off)"
        )
        if let usedAlignment {
            report.note(
                "dynamic images' block data: \(usedAlignment >> 10) KiB-aligned in the file (\(dataAlignmentBytes == nil ? "VHDImage's default; " : "")--data-alignment)"
            )
        }
        report.note(
            "targets: dynamic first touch <= 1.5x raw and >= 3x faster than qemu; overwrite and reads <= 1.1x raw; fixed <= 1.05x raw"
        )
        report.note(
            "qemu-img bench has no random mode: its 4 KiB reads are sequential; its images use force_size so sizes match"
        )
        report.note(
            "qemu-img bench: wall time of the process (its 'Run completed' figure omits the final flush); cache mode writeback, flush after the last write"
        )
        // Dynamic first touch in detail: the spread of the samples, and qemu's own figure.
        let key = "first touch|dynamic"
        if let ours = results["\(key)|ours"].map(Summary.init) {
            report.note(
                "dynamic first touch, swift-vmm: min \(seconds(ours.min)), median \(seconds(ours.median)), max \(seconds(ours.max)) over \(rounds) rounds"
            )
        }
        if let wall = results["\(key)|qemu"].map(Summary.init),
            let reported = results["\(key)|qemu-reported"].map(Summary.init)
        {
            report.note(
                "dynamic first touch, qemu-img bench wall time: min \(seconds(wall.min)), median \(seconds(wall.median)), max \(seconds(wall.max)); "
                    + "its own 'Run completed' figure: min \(seconds(reported.min)), median \(seconds(reported.median)), max \(seconds(reported.max)) "
                    + "(the difference is process start-up, opening the image and the final flush)")
        }
        // Each round measures these back to back: per-round ratios show how much of a gap
        // depends on the disk's load at the moment.
        for (label, numerator, denominator) in [
            ("qemu wall / swift-vmm", "\(key)|qemu", "\(key)|ours"),
            ("swift-vmm / swift-vmm raw", "\(key)|ours", "first touch|raw|ours"),
            (
                "ceiling (qemu dynamic wall / swift-vmm raw: what the fastest possible VHD, one as fast as a raw file, would reach)",
                "\(key)|qemu", "first touch|raw|ours"
            ),
        ] {
            guard let ratios = perRoundRatios(numerator, denominator) else { continue }
            report.note(
                "dynamic first touch, \(label) per round: min \(ReportValue.number(ratios.min, decimals: 2).display), "
                    + "median \(ReportValue.number(ratios.median, decimals: 2).display), max \(ReportValue.number(ratios.max, decimals: 2).display)"
            )
        }
        report.note(
            "why qemu is slow on dynamic first touch: for each new 2 MiB block its vpc driver writes the bitmap, a footer "
                + "at the new end and the BAT entry, each followed by fdatasync, before the data (strace -f -c counts 2049 fdatasync "
                + "calls for the 1 GiB run), so its time follows the disk's sync latency; swift-vmm writes data only (starting "
                + "writeback as it goes, see write-behind above) and syncs twice at the flush. The ratio therefore depends on the "
                + "disk and its load at the moment: compare the two columns of one run, measured back to back, not figures from "
                + "another machine or time")
        for scenario in ["overwrite", "4 KiB random reads"] {
            guard let control = results["\(scenario)|control|ours"].map({ Summary($0).median }),
                let layout = perRoundRatios("\(scenario)|control|ours", "\(scenario)|raw|ours"),
                let code = perRoundRatios("\(scenario)|dynamic|ours", "\(scenario)|control|ours")
            else { continue }
            report.note(
                "layout control, \(scenario): the same I/O straight to the dynamic image's file at the offsets its BAT gives took "
                    + "\(seconds(control)): \(ratio(layout.median)) raw (the layout: block data aligned only as --data-alignment says "
                    + "after each bitmap, not 2 MiB-aligned, so the page cache may use smaller folios); dynamic / control \(ratio(code.median)) (our code)"
            )
        }
        report.print(options)
    }

    func seconds(_ value: Double) -> String { ReportValue.number(value, decimals: 3).display + " s" }
    func ratio(_ value: Double) -> String { ReportValue.number(value, decimals: 2).display + "x" }

    func shell(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(tool) \(arguments.joined(separator: " ")) failed")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `qemu-img bench` and returns the wall time of the whole process, and its own "Run
    /// completed" figure. That figure stops before the flush it sends after the last request
    /// finishes (the flush runs on a worker thread and completes at close), so it leaves the
    /// flush out; the wall time is what the comparison uses.
    func qemuBench(_ arguments: [String]) throws -> (wall: Double, reported: Double) {
        var output = ""
        let ns = try timeNanoseconds { output = try shell("qemu-img", ["bench"] + arguments) }
        guard let range = output.range(of: "Run completed in "),
            let reported = Double(output[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        else {
            throw ValidationError("unexpected qemu-img bench output: \(output)")
        }
        return (Double(ns) / 1e9, reported)
    }
}

VHDBench.main()
