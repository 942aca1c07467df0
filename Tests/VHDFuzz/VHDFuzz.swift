import BlockStorage
// Fuzz target for the VHD parser, read path, repair, write path, differencing chains and commit.
//
// libFuzzer build (see run-fuzz.sh):
//   swift build -c release --product vhd-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
// Without FUZZING this is a plain executable that replays files (`vhd-fuzz FILE…`) and writes a
// seed corpus (`vhd-fuzz --make-corpus DIR`).
import FuzzSupport
import Synchronization
import SystemPackage
import VHD

#if canImport(Glibc)
    import Glibc
#endif

/// An in-memory file, read-only or writable up to `limit` bytes (beyond that a write fails
/// with ENOSPC, as on a full disk: images must not ask for more than a few blocks here).
///
/// Like a disk with a volatile write cache (the unit tests' `FaultyIO`), it keeps what the
/// last `sync()` made durable and the writes, truncations and hole punches issued since, in
/// order: ``crashImage(keepingFirst:)`` is a file a crash now could leave.
final class MemoryIO: ImageIO {
    /// A change not yet made durable by `sync()`.
    enum Operation: Sendable {
        case write(UInt64, [UInt8])
        case truncate(UInt64)
        case punch(UInt64, UInt64)
    }

    struct State: Sendable {
        /// The file as reads see it.
        var current: [UInt8]
        /// The file as the last `sync()` left it.
        var durable: [UInt8]
        /// The changes since, in order.
        var pending: [Operation] = []
    }

    let state: Mutex<State>
    let writable: Bool
    let limit: Int

    init(_ bytes: [UInt8], writable: Bool = false, limit: Int = 64 << 20) {
        self.state = Mutex(State(current: bytes, durable: bytes))
        self.writable = writable
        self.limit = limit
    }

    /// The file as reads see it (every change kept).
    var contents: [UInt8] { state.withLock { $0.current } }

    /// The number of changes since the last `sync()`.
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// The file after a crash in which the first `count` changes since the last `sync()`
    /// reached the disk and the others were lost (0: every unsynced change lost).
    func crashImage(keepingFirst count: Int) -> [UInt8] {
        state.withLock { s in
            var bytes = s.durable
            for operation in s.pending.prefix(count) { Self.apply(operation, to: &bytes) }
            return bytes
        }
    }

    static func apply(_ operation: Operation, to bytes: inout [UInt8]) {
        switch operation {
        case .write(let offset, let data):
            let end = Int(offset) + data.count
            if end > bytes.count { bytes += [UInt8](repeating: 0, count: end - bytes.count) }
            bytes.replaceSubrange(Int(offset)..<end, with: data)
        case .truncate(let size):
            if Int(size) < bytes.count {
                bytes.removeLast(bytes.count - Int(size))
            } else {
                bytes += [UInt8](repeating: 0, count: Int(size) - bytes.count)
            }
        case .punch(let offset, let length):
            guard offset < UInt64(bytes.count) else { return }
            let end = length >= UInt64(bytes.count) - offset ? bytes.count : Int(offset + length)
            for i in Int(offset)..<end { bytes[i] = 0 }
        }
    }

    private func perform(_ operation: Operation) {
        state.withLock { s in
            Self.apply(operation, to: &s.current)
            s.pending.append(operation)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) -> Int {
        state.withLock { s in
            guard offset < UInt64(s.current.count) else { return 0 }
            let n = min(buffer.count, s.current.count - Int(offset))
            s.current.withUnsafeBytes {
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
        perform(.write(offset, Array(buffer)))
    }

    func size() throws(BlockDeviceError) -> UInt64 { state.withLock { UInt64($0.current.count) } }

    func truncate(to size: UInt64) throws(BlockDeviceError) {
        guard writable else { throw .readOnly }
        guard size <= UInt64(limit) else { throw .io(operation: "ftruncate", errno: .noSpace) }
        perform(.truncate(size))
    }

    func sync() throws(BlockDeviceError) {
        state.withLock { s in
            s.durable = s.current
            s.pending.removeAll()
        }
    }

    func punchHole(at offset: UInt64, length: UInt64) throws(BlockDeviceError) {
        guard writable else { throw .readOnly }
        perform(.punch(offset, length))
    }
}

/// Stops the run: libFuzzer reports the input as a crash. The files the target was working on
/// in /dev/shm go first (the input alone reproduces them).
func violated(_ what: String) -> Never {
    removeDirectory(chainDirectory())
    unlink(maintenancePath())
    unlink(maintenancePath() + ".converted")
    fatalError("invariant violated: \(what)")
}

/// Where ``fuzzMaintenance(_:)`` puts its image: one file per process in /dev/shm.
func maintenancePath() -> String { "/dev/shm/vhd-fuzz-\(getpid()).vhd" }

/// Where ``fuzzChain(_:header:capacity:)`` puts a child and its parent: one directory per
/// process in /dev/shm.
func chainDirectory() -> String { "/dev/shm/vhd-fuzz-\(getpid())-chain" }

/// Choices made from the input itself (FNV-1a of its bytes seeds SplitMix64): the same input
/// makes the same choices, so a crash replays, and a mutation makes other ones.
struct InputRandom {
    var state: UInt64

    init(_ bytes: [UInt8], salt: UInt64) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ salt
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        state = hash
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    mutating func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }

    /// `count` bytes: random ones, or (one time in four) one byte repeated.
    mutating func bytes(_ count: Int) -> [UInt8] {
        if below(4) == 0 { return [UInt8](repeating: UInt8(truncatingIfNeeded: next() | 1), count: count) }
        var result: [UInt8] = []
        result.reserveCapacity(count + 8)
        while result.count < count { withUnsafeBytes(of: next()) { result += $0 } }
        result.removeLast(result.count - count)
        return result
    }
}

/// The 512-byte sectors with the given indices (sorted, each once), read in runs.
func readSectors(_ image: VHDImage, _ sectors: [UInt64]) throws(BlockDeviceError) -> [UInt64: [UInt8]] {
    var result: [UInt64: [UInt8]] = [:]
    var i = 0
    while i < sectors.count {
        var j = i + 1
        while j < sectors.count, sectors[j] == sectors[j - 1] + 1, j - i < 256 { j += 1 }
        let bytes = try image.read(at: sectors[i] * 512, length: (j - i) * 512)
        for k in i..<j { result[sectors[k]] = Array(bytes[(k - i) * 512..<(k - i + 1) * 512]) }
        i = j
    }
    return result
}

/// One fuzz input, as it is and resealed: open, check, map and read it; then, on writable
/// copies, repair, write, convert, compact and resize; a differencing input also gets a parent,
/// is written on top of it and committed into it. Any thrown error is fine; a crash, a hang, a
/// huge allocation or a broken invariant (stated at each function below: a read beneath a
/// missing parent that returns data, a repair that changes data it does not report lost, a
/// crash image that does not open or reads a value never written, a commit that changes what
/// the chain reads) is a bug.
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
    // For inspection: a differencing input has no parent here (unless an absolute locator names
    // a file on this machine), and its own layer is still read; reads beneath it must fail.
    var chain: (header: VHDDynamicHeader, capacity: UInt64)?
    if let image = try? VHDImage.openForInspection(io: io, path: "/nonexistent/fuzz.vhd") {
        checkInspectionReads(image, file: bytes)
        var sector = [UInt8](repeating: 0, count: 4096)
        let capacity = image.capacity
        for offset in [0, capacity / 2, capacity &- 4096, capacity &- 1] where offset < capacity {
            let length = Int(min(UInt64(sector.count), capacity - offset))
            sector.withUnsafeMutableBytes { buffer in
                _ = try? image.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]), at: offset)
            }
        }
        // Then it gets a parent of its own, where its first locator points (tried first).
        if image.diskType == .differencing, let header = image.header {
            chain = (header, capacity)
        }
    }
    fuzzRepair(bytes)
    fuzzWrite(bytes)
    fuzzWrite(bytes, limit: bytes.count + 2048)  // little room: allocations fail with ENOSPC
    fuzzMaintenance(bytes)
    if let chain { fuzzChain(bytes, header: chain.header, capacity: chain.capacity) }
}

/// What an image opened for inspection reads. Its stored extents (``VHDImage/storedExtents()``)
/// are in disk order, apart, inside the disk and inside the file, and read as the file holds
/// them at their `fileOffset`. Elsewhere a dynamic disk reads zeros, and a differencing disk
/// whose parent is missing (``VHDImage/parentError``) fails with
/// `BlockDeviceError.parentUnavailable` — never zeros: for a whole sector, a byte in the middle
/// of one, the last byte, and a read that starts or ends one sector inside a stored extent.
func checkInspectionReads(_ image: VHDImage, file: [UInt8]) {
    guard let extents = try? image.storedExtents() else { return }
    let capacity = image.capacity
    var end: UInt64 = 0
    for extent in extents {
        if extent.length == 0 || extent.offset < end || extent.offset > capacity
            || extent.length > capacity - extent.offset
        {
            violated("stored extent \(extent) is empty, out of order or outside the disk (\(capacity) bytes)")
        }
        if extent.fileOffset > UInt64(file.count) || extent.length > UInt64(file.count) - extent.fileOffset {
            violated("stored extent \(extent) lies outside the file (\(file.count) bytes)")
        }
        end = extent.offset + extent.length
    }
    func sample<T>(_ items: [T]) -> [T] { items.count <= 12 ? items : Array(items.prefix(8) + items.suffix(4)) }
    for extent in sample(extents) {
        let head = min(extent.length, 4096)
        let tail = min(extent.length, 512)
        for (offset, count) in [(extent.offset, head), (extent.offset + extent.length - tail, tail)] {
            let at = Int(extent.fileOffset + offset - extent.offset)
            do {
                if try image.read(at: offset, length: Int(count)) != Array(file[at..<at + Int(count)]) {
                    violated("\(count) bytes at \(offset) do not read as the file holds them at \(at)")
                }
            } catch {
                violated("reading \(count) stored bytes at \(offset) fails: \(error)")
            }
        }
    }
    let missingParent = image.diskType == .differencing && image.parentError != nil
    guard missingParent || image.diskType == .dynamic else { return }
    var gaps: [(offset: UInt64, length: UInt64)] = []
    var start: UInt64 = 0
    for extent in extents {
        if extent.offset > start { gaps.append((start, extent.offset - start)) }
        start = extent.offset + extent.length
    }
    if start < capacity { gaps.append((start, capacity - start)) }
    for gap in sample(gaps) {
        var reads: [(offset: UInt64, length: UInt64)] = [
            (gap.offset, min(gap.length, 4096)), (gap.offset + gap.length - 1, 1), (gap.offset + gap.length / 2, 1),
        ]
        if missingParent {
            // Partly stored: the stored sector before the gap or after it, and the gap's first
            // or last sector.
            if gap.offset >= 512 { reads.append((gap.offset - 512, 1024)) }
            if gap.offset + gap.length + 512 <= capacity { reads.append((gap.offset + gap.length - 512, 1024)) }
        }
        for read in reads {
            do {
                let data = try image.read(at: read.offset, length: Int(read.length))
                if missingParent {
                    violated("\(read.length) bytes at \(read.offset), not stored here, read beneath a missing parent")
                }
                if data.contains(where: { $0 != 0 }) {
                    violated("\(read.length) bytes at \(read.offset), not stored in a dynamic disk, are not zeros")
                }
            } catch {
                guard missingParent, case .parentUnavailable = error else {
                    violated("reading \(read.length) bytes at \(read.offset), not stored here, fails with \(error)")
                }
            }
        }
    }
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
    let path = maintenancePath()
    defer { unlink(path) }
    // Written and closed again: an open file holds its lock, and the operations below open the
    // image for writing (they would fail with `locked`).
    let stored: Bool = bytes.withUnsafeBytes { buffer in
        guard let file = try? FileImageIO(path: path, readOnly: false, create: true, truncate: true, writeBehind: nil)
        else { return false }
        return (try? file.write(buffer, at: 0)) != nil
    }
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

/// `check --repair` does all it can in one go (checking again finds nothing it could repair),
/// writes nothing when it repairs nothing, and keeps the data it does not report lost. Its
/// `lost` ranges are in disk order, apart (adjacent ones merged), inside the disk, only there
/// when a BAT entry was dropped (restoring a footer loses no data), and read as zeros (or as
/// the parent's data, for a differencing image) once the image opens. A disk that a
/// read-only open could read before the repair reads the same after it outside those ranges —
/// all of it when nothing was lost. (Such a disk had no BAT entry to drop: one outside the
/// file keeps an image from opening. The footer each repair writes is the one in effect, so
/// the disk keeps its size and type.) `path` names the image (a differencing one finds its
/// parent next to it).
func fuzzRepair(_ bytes: [UInt8], path: String = "/nonexistent/fuzz.vhd") {
    let before: [UInt8]? = {
        guard let image = try? VHDImage.open(io: MemoryIO(bytes), path: path, readOnly: true),
            image.capacity <= 16 << 20
        else { return nil }
        return try? image.read(at: 0, length: Int(image.capacity))
    }()
    let io = MemoryIO(bytes, writable: true)
    guard let report = try? VHDImage.checkImage(io: io, path: path, repair: true) else { return }
    guard !report.repaired.isEmpty else {
        if io.contents != bytes { violated("check --repair wrote to an image it repaired nothing in") }
        return
    }
    let droppedEntry = report.repaired.contains {
        if case .dropBATEntry = $0.repair { return true }
        return false
    }
    if !droppedEntry, !report.lost.isEmpty { violated("restoring a footer reports lost data: \(report.lost)") }
    var previousEnd: UInt64?
    for range in report.lost {
        if range.length == 0 || previousEnd.map({ range.offset <= $0 }) == true {
            violated("lost ranges are not in disk order, apart and merged: \(report.lost)")
        }
        previousEnd = range.offset + range.length
    }
    guard let again = try? VHDImage.checkImage(io: MemoryIO(io.contents), path: path) else {
        violated("check fails after a repair")
    }
    if let left = again.problems.first(where: { $0.repair != nil }) {
        violated("repairable problem left after repair: \(left)")
    }
    let after = try? VHDImage.open(io: MemoryIO(io.contents), path: path, readOnly: true)
    if let before {
        guard let after else { violated("an image that opened before check --repair no longer opens") }
        guard after.capacity == UInt64(before.count) else {
            violated("check --repair changed the disk size from \(before.count) to \(after.capacity)")
        }
        guard var now = try? after.read(at: 0, length: before.count) else {
            violated("the disk no longer reads after check --repair")
        }
        var expected = before
        for range in report.lost where range.offset + range.length <= UInt64(before.count) {
            for i in Int(range.offset)..<Int(range.offset + range.length) {
                now[i] = 0
                expected[i] = 0
            }
        }
        if let i = firstDifference(now, expected) {
            violated("check --repair changed the disk at \(i), outside the ranges it reports lost (\(report.lost))")
        }
    }
    guard let after else { return }
    if let last = previousEnd, last > after.capacity {
        violated("lost ranges reach past the end of the disk (\(after.capacity) bytes): \(report.lost)")
    }
    for range in report.lost.prefix(16) {
        let length = Int(min(range.length, 1 << 20))
        do {
            let now = try after.read(at: range.offset, length: length)
            var beneath = [UInt8](repeating: 0, count: length)
            if let parent = after.parent, range.offset < parent.capacity {
                let shared = Int(min(UInt64(length), parent.capacity - range.offset))
                beneath.replaceSubrange(0..<shared, with: try parent.read(at: range.offset, length: shared))
            }
            if now != beneath {
                violated("lost range \(range) reads as neither zeros nor the parent's data after check --repair")
            }
        } catch {
            violated("reading lost range \(range) after check --repair fails: \(error)")
        }
    }
}

/// The writes one input makes, chosen from its bytes (``InputRandom``): two writes of 1 byte
/// to a few blocks — partial sectors, block boundaries and the end of the disk included, the
/// second one often overlapping the first — then a discard, often over them; a flush after the
/// first write when chosen, and one at the end.
struct WritePlan {
    enum Step {
        case write(offset: UInt64, data: [UInt8])
        case discard(offset: UInt64, length: UInt64)
        case flush
    }

    var steps: [Step] = []

    init(capacity: UInt64, blockSize: UInt64, random: inout InputRandom) {
        let unit = blockSize > 0 ? blockSize : 4096
        let most = min(3 * unit + 1024, 256 << 10)
        let first = Self.range(capacity: capacity, unit: unit, most: most, random: &random)
        steps.append(.write(offset: first.offset, data: random.bytes(Int(first.length))))
        if random.below(3) == 0 { steps.append(.flush) }
        var second = Self.range(capacity: capacity, unit: unit, most: most, random: &random)
        if random.below(2) == 0 {
            let start = first.offset - min(first.offset, random.below(1024)) + random.below(first.length)
            second.offset = min(start, capacity - second.length)
        }
        steps.append(.write(offset: second.offset, data: random.bytes(Int(second.length))))
        var discard = Self.range(capacity: capacity, unit: unit, most: min(2 * unit + 1024, 1 << 20), random: &random)
        if random.below(2) == 0 {
            let over = random.below(2) == 0 ? first : second
            discard.offset = min(over.offset - min(over.offset, random.below(2048)), capacity - discard.length)
        }
        steps.append(.discard(offset: discard.offset, length: discard.length))
        steps.append(.flush)
    }

    /// A range of 1 to `most` bytes inside a disk of `capacity` bytes (at least 1) in blocks
    /// of `unit` bytes.
    static func range(capacity: UInt64, unit: UInt64, most: UInt64, random: inout InputRandom) -> (
        offset: UInt64, length: UInt64
    ) {
        var length: UInt64
        switch random.below(4) {
        case 0: length = 1 + random.below(1024)  // inside a sector or across two
        case 1: length = 512 * (1 + random.below(16))
        case 2: length = unit * (1 + random.below(3))
        default: length = 1 + random.below(most)
        }
        length = max(1, min(length, most, capacity))
        let last = capacity - length
        let offset: UInt64
        switch random.below(5) {
        case 0: offset = random.below(last + 1)
        case 1: offset = random.below(last / 512 + 1) * 512
        case 2:  // across a block boundary
            let boundary = unit * (1 + random.below(max(1, capacity / unit)))
            offset = min(boundary - min(boundary, 1 + random.below(length)), last)
        case 3: offset = last
        default: offset = random.below(min(last, 2 * unit) + 1)
        }
        return (offset, length)
    }
}

/// What ``runWritePlan(on:bytes:path:)`` did and what it allows afterwards.
struct WriteOutcome {
    var capacity: UInt64
    /// For each sector a step touched, what it may read: its content at the last successful
    /// flush, or after a later write or discard (only the last one when nothing failed).
    var allowed: [UInt64: [[UInt8]]]
    /// Sectors no step touched (next to each range, the first, the middle and the last), as
    /// they read before.
    var untouched: [UInt64: [UInt8]]
    /// Whether a write, discard or flush failed.
    var failed: Bool
    /// Files to check: the one left after the final flush; or, after a failure, the ones a
    /// crash then could leave.
    var files: [(what: String, bytes: [UInt8])]
}

/// Opens `io` writable and runs the ``WritePlan`` of `bytes` on it until a step fails; nil when
/// it does not open writable or cannot be read before. The image is released on return
/// (which flushes it).
func runWritePlan(on io: MemoryIO, bytes: [UInt8], path: String) -> WriteOutcome? {
    guard let image = try? VHDImage.open(io: io, path: path), !image.isReadOnly, image.capacity >= 512 else {
        return nil
    }
    let capacity = image.capacity
    let sectorCount = capacity / 512
    var random = InputRandom(bytes, salt: 1)
    let plan = WritePlan(capacity: capacity, blockSize: image.blockSize, random: &random)
    // A differencing disk ignores discards (its sectors keep their content); elsewhere whole
    // sectors inside the range read as zeros afterwards.
    let discardsZero = image.diskType != .differencing
    var touched = Set<UInt64>()
    var neighbours: Set<UInt64> = [0, sectorCount / 2, sectorCount - 1]
    for step in plan.steps {
        let sectors: Range<UInt64>
        switch step {
        case .write(let offset, let data):
            sectors = offset / 512..<(offset + UInt64(data.count) + 511) / 512
        case .discard(let offset, let length):
            sectors = discardsZero ? (offset + 511) / 512..<max((offset + 511) / 512, (offset + length) / 512) : 0..<0
        case .flush:
            continue
        }
        touched.formUnion(sectors)
        if sectors.lowerBound > 0 { neighbours.insert(sectors.lowerBound - 1) }
        if sectors.upperBound < sectorCount { neighbours.insert(sectors.upperBound) }
    }
    guard var model = try? readSectors(image, touched.sorted()),
        let untouched = try? readSectors(image, neighbours.subtracting(touched).sorted())
    else { return nil }
    var allowed = model.mapValues { [$0] }
    func change(_ sectors: Range<UInt64>, _ update: (UInt64, inout [UInt8]) -> Void) {
        for sector in sectors {
            guard var content = model[sector] else { continue }
            update(sector, &content)
            model[sector] = content
            if !allowed[sector, default: []].contains(content) { allowed[sector, default: []].append(content) }
        }
    }
    var failed = false
    steps: for step in plan.steps {
        do {
            switch step {
            case .write(let offset, let data):
                let end = offset + UInt64(data.count)
                change(offset / 512..<(end + 511) / 512) { sector, content in
                    let from = max(offset, sector * 512)
                    let to = min(end, sector * 512 + 512)
                    content.replaceSubrange(
                        Int(from - sector * 512)..<Int(to - sector * 512),
                        with: data[Int(from - offset)..<Int(to - offset)])
                }
                try image.write(data, at: offset)
            case .discard(let offset, let length):
                if discardsZero {
                    change((offset + 511) / 512..<max((offset + 511) / 512, (offset + length) / 512)) { _, content in
                        content = [UInt8](repeating: 0, count: 512)
                    }
                }
                try image.discard(offset: offset, length: length)
            case .flush:
                try image.flush()
                allowed = model.mapValues { [$0] }
            }
        } catch {
            failed = true
            break steps
        }
    }
    var files: [(what: String, bytes: [UInt8])] = []
    withExtendedLifetime(image) {
        guard failed else {
            files.append(("flushed writes", io.contents))
            return
        }
        let pending = io.pendingCount
        files.append(("a failed write, all \(pending) unsynced changes kept", io.contents))
        files.append(("a failed write, all \(pending) unsynced changes lost", io.crashImage(keepingFirst: 0)))
        for kept in Set([pending / 4, pending / 2, pending * 3 / 4]).sorted() where kept > 0 && kept < pending {
            files.append(
                (
                    "a failed write, the first \(kept) of \(pending) unsynced changes kept",
                    io.crashImage(keepingFirst: kept)
                ))
        }
    }
    return WriteOutcome(capacity: capacity, allowed: allowed, untouched: untouched, failed: failed, files: files)
}

/// Writes, discards and flushes (``WritePlan``) on a writable copy, held to the crash model of
/// the unit tests (`CrashTests`): after the final flush each sector a step touched reads what
/// the steps left there. When a step fails (here: the file cannot grow), every file a crash
/// could then leave — every unsynced change kept, every one lost, the first ones kept, and the
/// file as releasing the image (which flushes) leaves it, with and without its unsynced
/// changes — opens, and each touched sector reads as at the last successful flush or as after
/// a later step. Everywhere, the disk keeps its size and sectors no step touched (those next
/// to each range among them) read as before. `path` names the image (a differencing one finds
/// its parent next to it).
func fuzzWrite(_ bytes: [UInt8], limit: Int = 64 << 20, path: String = "/nonexistent/fuzz.vhd") {
    let io = MemoryIO(bytes, writable: true, limit: limit)
    guard var outcome = runWritePlan(on: io, bytes: bytes, path: path) else { return }
    if outcome.failed {
        outcome.files.append(("the release after a failed write", io.contents))
        outcome.files.append(
            ("the release after a failed write, its unsynced changes lost", io.crashImage(keepingFirst: 0)))
    }
    var checked: [[UInt8]] = []
    for file in outcome.files where !checked.contains(file.bytes) {
        checked.append(file.bytes)
        let reopened: VHDImage
        do {
            reopened = try VHDImage.open(io: MemoryIO(file.bytes), path: path, readOnly: true)
        } catch {
            violated("the image no longer opens after \(file.what): \(error)")
        }
        if reopened.capacity != outcome.capacity {
            violated("the disk size changed from \(outcome.capacity) to \(reopened.capacity) after \(file.what)")
        }
        do {
            for (sector, content) in try readSectors(reopened, outcome.allowed.keys.sorted())
            where outcome.allowed[sector]?.contains(content) != true {
                violated(
                    outcome.failed
                        ? "sector \(sector) reads neither as flushed nor as after a later write after \(file.what)"
                        : "sector \(sector) does not read back what was written and flushed")
            }
            for (sector, content) in try readSectors(reopened, outcome.untouched.keys.sorted())
            where outcome.untouched[sector] != content {
                violated("sector \(sector), which no step touched, changed after \(file.what)")
            }
        } catch {
            violated("reading after \(file.what) fails: \(error)")
        }
    }
}

/// The first index at which `a` and `b` differ (the shorter one's end when one is a prefix of
/// the other), nil when they are equal.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    if a == b { return nil }
    if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return i }
    return a.count == b.count ? nil : min(a.count, b.count)
}

/// Removes `directory` and the files in it.
func removeDirectory(_ directory: String) {
    guard let handle = opendir(directory) else { return }
    var names: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != ".", name != ".." { names.append(name) }
    }
    closedir(handle)
    for name in names { unlink(directory + "/" + name) }
    rmdir(directory)
}

/// A differencing input gets a parent: a small fixed or dynamic image (as large as the child or
/// smaller) with the unique id the child's header names, where its first locator points — a
/// file next to the child in a directory of its own in /dev/shm (an input whose first locator
/// leads elsewhere is left alone: nothing outside that directory is ever written). Then:
///
/// - the child opens and reads as the composition: its stored extents as its file holds them,
///   the parent's data elsewhere, zeros past the end of a smaller parent;
/// - repair and writes hold there as on their own (``fuzzRepair(_:path:)``,
///   ``fuzzWrite(_:limit:path:)``, on copies of the child);
/// - `VHDImage.commit(path:)` either fails, leaving a chain that reads as before, or succeeds:
///   the parent then reads as the child did, the child stores no block and still reads the same.
///
/// Every image is released before the next open that could conflict with it (an image open for
/// writing excludes every other open, and a child holds its parent as a reader).
func fuzzChain(_ bytes: [UInt8], header: VHDDynamicHeader, capacity: UInt64) {
    guard capacity >= 512, capacity <= 4 << 20 else { return }
    let directory = chainDirectory()
    removeDirectory(directory)
    guard mkdir(directory, 0o700) == 0 else { return }
    defer { removeDirectory(directory) }
    guard
        let candidates = try? ParentLink.candidates(for: header, io: MemoryIO(bytes), childPath: directory + "/c.vhd"),
        let parentPath = candidates.lazy.compactMap(\.path).first, parentPath.hasPrefix(directory + "/")
    else { return }
    let name = parentPath.dropFirst(directory.count + 1)
    guard !name.isEmpty, name.utf8.count <= 200, !name.contains("/"), name != ".", name != ".." else { return }
    let childPath = directory + (name == "c.vhd" ? "/c2.vhd" : "/c.vhd")

    var random = InputRandom(bytes, salt: 2)
    let parentSize = random.below(3) == 0 ? 512 * (1 + random.below(capacity / 512)) : capacity
    var options = VHDCreateOptions(type: random.below(2) == 0 ? .fixed : .dynamic, size: parentSize)
    options.blockSize = 4096
    options.uniqueID = header.parentUniqueID
    var parentDisk = [UInt8](repeating: 0, count: Int(parentSize))
    do {
        let parent = try VHDImage.create(path: parentPath, options: options)
        for _ in 0..<3 {
            let length = 1 + random.below(min(parentSize, 16 << 10))
            let offset = random.below(parentSize - length + 1)
            let data = random.bytes(Int(length))
            parentDisk.replaceSubrange(Int(offset)..<Int(offset) + data.count, with: data)
            try parent.write(data, at: offset)
        }
        try parent.flush()
    } catch {
        return
    }
    do {
        let file = try FileImageIO(path: childPath, readOnly: false, create: true, truncate: true, writeBehind: nil)
        try file.writeBytes(bytes, at: 0)
    } catch {
        return
    }
    // The composition.
    let before: [UInt8]
    do {
        let child = try VHDImage.open(path: childPath, readOnly: true)
        before = try child.read(at: 0, length: Int(capacity))
        var expected = [UInt8](repeating: 0, count: Int(capacity))
        let shared = Int(min(capacity, parentSize))
        expected.replaceSubrange(0..<shared, with: parentDisk[0..<shared])
        for extent in try child.storedExtents() {
            let (at, from, count) = (Int(extent.offset), Int(extent.fileOffset), Int(extent.length))
            expected.replaceSubrange(at..<at + count, with: bytes[from..<from + count])
        }
        if let i = firstDifference(before, expected) {
            violated("a differencing image reads at \(i) other data than its own stored sectors over its parent's")
        }
    } catch {
        violated("a differencing image whose parent is present does not open or read: \(error)")
    }
    fuzzRepair(bytes, path: childPath)
    fuzzWrite(bytes, path: childPath)
    fuzzWrite(bytes, limit: bytes.count + 2048, path: childPath)
    // Commit.
    let committed = (try? VHDImage.commit(path: childPath)) != nil
    let what = committed ? "commit" : "a failed commit"
    do {
        let child = try VHDImage.open(path: childPath, readOnly: true)
        if let i = firstDifference(try child.read(at: 0, length: Int(capacity)), before) {
            violated("the chain reads differently at \(i) after \(what)")
        }
        if committed, child.allocatedBlockCount != 0 {
            violated("commit left \(child.allocatedBlockCount) blocks in the child")
        }
    } catch {
        violated("the child does not open or read after \(what): \(error)")
    }
    guard committed else { return }
    do {
        let parent = try VHDImage.open(path: parentPath, readOnly: true)
        if parent.capacity != parentSize { violated("commit changed the parent's size") }
        if let i = firstDifference(try parent.read(at: 0, length: Int(parentSize)), Array(before[0..<Int(parentSize)]))
        {
            violated("after commit the parent reads differently at \(i) than the child did")
        }
    } catch {
        violated("the parent does not open or read after commit: \(error)")
    }
}

#if FUZZING
    /// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer.
    @_cdecl("vhd_fuzz_main")
    public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        runLibFuzzer(argc, argv, fuzzOne)
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

        /// Small valid images of each type as seeds, and a pair: `pair-child.vhd` (grown past
        /// the end of its parent, with partial sectors in four blocks, one past the
        /// parent's end) over `pair-parent.vhd`. The target gives a differencing input a parent
        /// of its own, where the child's first (relative) locator points.
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
            do {
                let child = try VHDImage.createDifferencing(
                    path: directory + "/child.vhd", parentPath: directory + "/dynamic.vhd")
                try child.write([UInt8](repeating: 0xEF, count: 700), at: 4000)
                try child.flush()
            }
            var small = VHDCreateOptions(type: .dynamic, size: 32 << 10)
            small.blockSize = 4096
            let parentPath = directory + "/pair-parent.vhd"
            let childPath = directory + "/pair-child.vhd"
            do {
                let parent = try VHDImage.create(path: parentPath, options: small)
                try parent.write((0..<6000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }, at: 2000)
                try parent.flush()
            }
            do {
                let child = try VHDImage.createDifferencing(path: childPath, parentPath: parentPath)
                try child.write([UInt8](repeating: 0x5A, count: 1500), at: 3000)
                try child.write([UInt8](repeating: 0x33, count: 100), at: 20_000)
                try child.flush()
            }
            try VHDImage.resize(path: childPath, to: 40 << 10)
            let child = try VHDImage.open(path: childPath)
            try child.write([UInt8](repeating: 0x77, count: 700), at: 34_000)
            try child.flush()
        }
    }
#endif
