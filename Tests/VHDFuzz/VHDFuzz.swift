import BlockStorage
// Fuzz target for the VHD parser, read path, repair and write path.
//
// libFuzzer build (see run-fuzz.sh):
//   swift build -c release --product vhd-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
// Without FUZZING this is a plain executable that replays files (`vhd-fuzz FILE…`) and writes a
// seed corpus (`vhd-fuzz --make-corpus DIR`).
import Synchronization
import SystemPackage
import VHD

#if canImport(Glibc)
    import Glibc
#endif

/// An in-memory file, read-only or writable up to `limit` bytes (beyond that a write fails
/// with ENOSPC, as on a full disk: images must not ask for more than a few blocks here).
final class MemoryIO: ImageIO {
    let bytes: Mutex<[UInt8]>
    let writable: Bool
    let limit: Int

    init(_ bytes: [UInt8], writable: Bool = false, limit: Int = 64 << 20) {
        self.bytes = Mutex(bytes)
        self.writable = writable
        self.limit = limit
    }

    var contents: [UInt8] { bytes.withLock { $0 } }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) -> Int {
        bytes.withLock { bytes in
            guard offset < UInt64(bytes.count) else { return 0 }
            let n = min(buffer.count, bytes.count - Int(offset))
            bytes.withUnsafeBytes {
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + n]))
            }
            return n
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        guard writable else { throw .readOnly }
        guard offset <= UInt64(limit), UInt64(buffer.count) <= UInt64(limit) - offset else {
            throw .io(operation: "pwrite", errno: .noSpace)
        }
        bytes.withLock { bytes in
            let end = Int(offset) + buffer.count
            if end > bytes.count { bytes += [UInt8](repeating: 0, count: end - bytes.count) }
            bytes.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[Int(offset)..<end]).copyMemory(from: buffer)
            }
        }
    }

    func size() throws(BlockDeviceError) -> UInt64 { bytes.withLock { UInt64($0.count) } }

    func truncate(to size: UInt64) throws(BlockDeviceError) {
        guard writable else { throw .readOnly }
        guard size <= UInt64(limit) else { throw .io(operation: "ftruncate", errno: .noSpace) }
        bytes.withLock { bytes in
            if Int(size) < bytes.count {
                bytes.removeLast(bytes.count - Int(size))
            } else {
                bytes += [UInt8](repeating: 0, count: Int(size) - bytes.count)
            }
        }
    }

    func sync() throws(BlockDeviceError) {}

    func punchHole(at offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        guard writable else { throw .readOnly }
        bytes.withLock { bytes in
            guard offset < UInt64(bytes.count) else { return }
            let end = Int(min(UInt64(bytes.count), offset + min(length, UInt64(bytes.count))))
            for i in Int(offset)..<end { bytes[i] = 0 }
        }
    }
}

/// Stops the run: libFuzzer reports the input as a crash.
func violated(_ what: String) -> Never { fatalError("invariant violated: \(what)") }

/// One fuzz input, as it is and resealed: open, check, map and read a few places; then, on
/// writable copies, repair, write, convert, compact and resize. Any thrown error is fine; a crash, a hang, a huge allocation or a broken
/// invariant (a repair that leaves repairable problems, a flushed write that does not read
/// back, data outside a write that changes) is a bug.
func fuzzOne(_ bytes: [UInt8]) {
    fuzzImage(bytes)
    // Most mutations break a checksum and stop at the first check; the same input with its
    // footers and header resealed reaches the structures behind them.
    let resealed = sealed(bytes)
    if resealed != bytes { fuzzImage(resealed) }
}

/// `bytes` with the checksums of the trailing footer, the footer copy and the dynamic header
/// recomputed wherever their cookies stand.
func sealed(_ bytes: [UInt8]) -> [UInt8] {
    var bytes = bytes
    func be(_ offset: Int, _ count: Int) -> UInt64 { bytes[offset..<offset + count].reduce(0) { $0 << 8 | UInt64($1) } }
    func seal(_ offset: Int, size: Int, cookie: String, checksumAt: Int) {
        guard offset >= 0, offset + size <= bytes.count, bytes[offset..<offset + 8].elementsEqual(cookie.utf8) else {
            return
        }
        var sum: UInt32 = 0
        for i in offset..<offset + size where i < offset + checksumAt || i >= offset + checksumAt + 4 {
            sum &+= UInt32(bytes[i])
        }
        let checksum = ~sum
        for k in 0..<4 { bytes[offset + checksumAt + k] = UInt8(truncatingIfNeeded: checksum >> (24 - 8 * k)) }
    }
    for footer in [bytes.count - 512, 0] where footer >= 0 {
        seal(footer, size: 512, cookie: "conectix", checksumAt: 64)
        if footer + 24 <= bytes.count, bytes.count >= 512, bytes[footer..<footer + 8].elementsEqual("conectix".utf8) {
            let header = be(footer + 16, 8)
            if header < UInt64(bytes.count) { seal(Int(header), size: 1024, cookie: "cxsparse", checksumAt: 36) }
        }
    }
    return bytes
}

/// Everything the fuzz target does with one image.
func fuzzImage(_ bytes: [UInt8]) {
    let io = MemoryIO(bytes)
    _ = try? VHDImage.checkImage(io: io, path: "/nonexistent/fuzz.vhd")
    // For inspection: a differencing input has no parent here, and its own layer is still read
    // (reads beneath it must fail, not crash).
    if let image = try? VHDImage.openForInspection(io: io, path: "/nonexistent/fuzz.vhd") {
        _ = try? image.storedExtents()
        var sector = [UInt8](repeating: 0, count: 4096)
        let capacity = image.capacity
        for offset in [0, capacity / 2, capacity &- 4096, capacity &- 1] where offset < capacity {
            let length = Int(min(UInt64(sector.count), capacity - offset))
            sector.withUnsafeMutableBytes { buffer in
                _ = try? image.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]), at: offset)
            }
        }
    }
    fuzzRepair(bytes)
    fuzzWrite(bytes)
    fuzzWrite(bytes, limit: bytes.count + 2048)  // little room: allocations fail with ENOSPC
    fuzzMaintenance(bytes)
}

/// Convert, compact and resize (grow) keep every byte of the disk: a small image that opens is written
/// to a file in /dev/shm (they work on paths); each operation either fails or leaves an image
/// that opens, reads the same (zeros past the old end after growing) and, if `check` found it
/// clean before, is still clean.
func fuzzMaintenance(_ bytes: [UInt8]) {
    let memory = MemoryIO(bytes)
    guard let image = try? VHDImage.open(io: memory, path: "/nonexistent/fuzz.vhd", readOnly: true),
        image.diskType != .differencing, image.capacity <= 16 << 20,
        let before = try? image.read(at: 0, length: Int(image.capacity))
    else { return }
    let cleanBefore = (try? VHDImage.checkImage(io: memory, path: "/nonexistent/fuzz.vhd"))?.isClean ?? false
    let path = "/dev/shm/vhd-fuzz-\(getpid()).vhd"
    defer { unlink(path) }
    guard let file = try? FileImageIO(path: path, readOnly: false, create: true, truncate: true, writeBehind: nil)
    else { return }
    let stored: Bool = bytes.withUnsafeBytes { buffer in (try? file.write(buffer, at: 0)) != nil }
    guard stored else { return }
    func verify(_ operation: String, expected: [UInt8]) {
        let after: VHDImage
        let read: [UInt8]
        do {
            after = try VHDImage.open(path: path, readOnly: true)
            read = try after.read(at: 0, length: expected.count)
        } catch {
            violated("the image does not open or read after \(operation): \(error)")
        }
        if read != expected || after.capacity != UInt64(expected.count) { violated("\(operation) changed the disk") }
        guard cleanBefore else { return }
        guard let report = try? VHDImage.check(path: path) else { violated("check fails after \(operation)") }
        if !report.isClean { violated("\(operation) left a clean image damaged: \(report.problems)") }
    }
    // Convert: every format holds the same disk.
    let converted = path + ".converted"
    defer { unlink(converted) }
    for format in ImageFormat.allCases {
        unlink(converted)
        guard (try? convertImage(source: image, destination: converted, to: format, blockSize: 4096)) != nil else {
            continue
        }
        do {
            // Opened as what it is: a raw disk may end with bytes that look like a VHD footer.
            let copy: any BlockDevice =
                format == .raw
                ? try RawImage(path: converted, readOnly: true) : try VHDImage.open(path: converted, readOnly: true)
            let read = try copy.read(at: 0, length: before.count)
            if copy.capacity != image.capacity || read != before { violated("convert to \(format) changed the disk") }
        } catch {
            violated("the result of convert to \(format) does not open or read: \(error)")
        }
    }
    if (try? VHDImage.compact(path: path)) != nil { verify("compact", expected: before) }
    let grown = image.capacity + (64 << 10)
    if (try? VHDImage.resize(path: path, to: grown)) != nil {
        verify("resize", expected: before + [UInt8](repeating: 0, count: 64 << 10))
    }
}

/// `check --repair` does all it can in one go: checking again finds nothing it could repair.
func fuzzRepair(_ bytes: [UInt8]) {
    let io = MemoryIO(bytes, writable: true)
    guard let first = try? VHDImage.checkImage(io: io, path: "/nonexistent/fuzz.vhd", repair: true),
        !first.repaired.isEmpty
    else { return }
    guard let again = try? VHDImage.checkImage(io: io, path: "/nonexistent/fuzz.vhd") else {
        violated("check fails after a repair")
    }
    if let left = again.problems.first(where: { $0.repair != nil }) {
        violated("repairable problem left after repair: \(left)")
    }
}

/// A write that a flush made durable reads back after reopening, and what lay outside it
/// still reads as before.
func fuzzWrite(_ bytes: [UInt8], limit: Int = 64 << 20) {
    let io = MemoryIO(bytes, writable: true, limit: limit)
    guard let image = try? VHDImage.open(io: io, path: "/nonexistent/fuzz.vhd"), !image.isReadOnly else { return }
    let capacity = image.capacity
    guard capacity >= 8192 else { return }
    let written = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    let writeAt = (capacity / 2) & ~511
    let keptAt = [UInt64(0), capacity - 4096].filter { $0 + 4096 <= writeAt || $0 >= writeAt + 4096 }
    guard
        let before = try? keptAt.map({ (offset) throws(BlockDeviceError) in try image.read(at: offset, length: 4096) }),
        let old = try? image.read(at: writeAt, length: 4096)
    else { return }
    var flushed = true
    do {
        try image.write(written, at: writeAt)
        try image.flush()
    } catch {
        // A write or flush that failed (here: the file could not grow) is like a crash at
        // that point: the image still opens, and each sector of the write reads old or new.
        flushed = false
    }
    let what = flushed ? "a flushed write" : "a failed write"
    let reopened: VHDImage
    do {
        reopened = try VHDImage.open(io: MemoryIO(io.contents), path: "/nonexistent/fuzz.vhd", readOnly: true)
    } catch {
        violated("the image no longer opens after \(what): \(error)")
    }
    do {
        let now = try reopened.read(at: writeAt, length: 4096)
        if flushed, now != written { violated("a flushed write does not read back") }
        // A write that failed part-way is not atomic across sectors: each one is old or new.
        for sector in stride(from: 0, to: 4096, by: 512)
        where now[sector..<sector + 512] != written[sector..<sector + 512]
            && now[sector..<sector + 512] != old[sector..<sector + 512]
        {
            violated("sector \(sector / 512) of \(what) reads as neither its old nor its new data")
        }
        for (offset, old) in zip(keptAt, before) where try reopened.read(at: offset, length: 4096) != old {
            violated("data at \(offset) changed by \(what) at \(writeAt)")
        }
    } catch {
        violated("reading after \(what) fails: \(error)")
    }
}

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        fuzzOne(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer.
    @_cdecl("vhd_fuzz_main")
    public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments, fuzzerTestOneInput)
    }
#else
    @main
    struct VHDFuzzMain {
        static func main() throws {
            var arguments = Array(CommandLine.arguments.dropFirst())
            if arguments.first == "--make-corpus", arguments.count == 2 {
                try makeCorpus(directory: arguments[1])
                return
            }
            for path in arguments {
                let io = try FileImageIO(path: path, readOnly: true)
                let size = try io.size()
                var bytes = [UInt8](repeating: 0, count: Int(min(size, 64 << 20)))
                _ = try bytes.withUnsafeMutableBytes { (b) throws(BlockDeviceError) in try io.read(into: b, at: 0) }
                fuzzOne(bytes)
                print("ok \(path)")
            }
            arguments.removeAll()
        }

        /// Small valid images of each type as seeds.
        static func makeCorpus(directory: String) throws {
            var options = VHDCreateOptions(type: .dynamic, size: 64 << 10)
            options.blockSize = 4096
            do {  // closed before it becomes a parent (an image open for writing cannot be one)
                let dynamic = try VHDImage.create(path: directory + "/dynamic.vhd", options: options)
                try dynamic.write([UInt8](repeating: 0xAB, count: 1000), at: 5000)
                try dynamic.flush()
            }
            let fixed = try VHDImage.create(
                path: directory + "/fixed.vhd", options: VHDCreateOptions(type: .fixed, size: 8192))
            try fixed.write([UInt8](repeating: 0xCD, count: 512), at: 512)
            try fixed.flush()
            let child = try VHDImage.createDifferencing(
                path: directory + "/child.vhd", parentPath: directory + "/dynamic.vhd")
            try child.write([UInt8](repeating: 0xEF, count: 700), at: 4000)
            try child.flush()
        }
    }
#endif
