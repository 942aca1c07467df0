// Fuzz target for the VHD parser and read path.
//
// libFuzzer build (see run-fuzz.sh):
//   swift build -c release --product vhd-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
// Without FUZZING this is a plain executable that replays files (`vhd-fuzz FILE…`) and writes a
// seed corpus (`vhd-fuzz --make-corpus DIR`).
import VHD

#if canImport(Glibc)
import Glibc
#endif

/// A read-only in-memory file.
final class BytesIO: ImageIO {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) -> Int {
        guard offset < UInt64(bytes.count) else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + n])) }
        return n
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) { throw .readOnly }
    func size() throws(BlockDeviceError) -> UInt64 { UInt64(bytes.count) }
    func truncate(to size: UInt64) throws(BlockDeviceError) { throw .readOnly }
    func sync() throws(BlockDeviceError) {}
    func punchHole(at offset: UInt64, length: UInt64) throws(BlockDeviceError) { throw .readOnly }
}

/// One fuzz input: open, check, map and read a few places. Any thrown error is fine; a crash,
/// a hang or a huge allocation is a bug.
func fuzzOne(_ bytes: [UInt8]) {
    let io = BytesIO(bytes)
    _ = try? VHDImage.checkImage(io: io, path: "/nonexistent/fuzz.vhd")
    // For inspection: a differencing input has no parent here, and its own layer is still read
    // (reads beneath it must fail, not crash).
    guard let image = try? VHDImage.openForInspection(io: io, path: "/nonexistent/fuzz.vhd") else { return }
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
        let dynamic = try VHDImage.create(path: directory + "/dynamic.vhd", options: options)
        try dynamic.write([UInt8](repeating: 0xAB, count: 1000), at: 5000)
        try dynamic.flush()
        let fixed = try VHDImage.create(path: directory + "/fixed.vhd", options: VHDCreateOptions(type: .fixed, size: 8192))
        try fixed.write([UInt8](repeating: 0xCD, count: 512), at: 512)
        try fixed.flush()
        let child = try VHDImage.createDifferencing(path: directory + "/child.vhd", parentPath: directory + "/dynamic.vhd")
        try child.write([UInt8](repeating: 0xEF, count: 700), at: 4000)
        try child.flush()
    }
}
#endif
