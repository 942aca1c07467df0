// Fuzz target for the Linux kernel image parsers and loader (bzImage setup header, ELF program
// headers and notes).
//
// libFuzzer build (see run-fuzz.sh):
//   swift build -c release --product kernel-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
// Without FUZZING this is a plain executable that replays files (`kernel-fuzz FILE…`, printing
// `ok FILE` for each) and writes a seed corpus (`kernel-fuzz --make-corpus DIR`).
import FuzzSupport
import GuestMemory
import LinuxLoader
import LinuxLoaderFixtures

#if canImport(Glibc)
    import Glibc
#endif

/// Stops the run: libFuzzer reports the input as a crash.
func violated(_ what: String) -> Never { fatalError("invariant violated: \(what)") }

/// The guest memory every load goes to: 64 MiB at 0 (sparse: only what a load touches is backed).
let guestMemorySize: UInt64 = 64 << 20
let memory: GuestMemoryMap = {
    do {
        return try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: guestMemorySize)])
    } catch {
        fatalError("guest memory: \(error)")
    }
}()

/// One input: recognise it and, when it is an image, load it. A thrown error is fine; a crash or
/// a broken invariant is a bug: a load stays inside guest memory, its entries lie inside the
/// range it reports, and the kernel's bytes are where it says.
func fuzzOne(_ bytes: [UInt8]) {
    guard let image = try? KernelImage(bytes: bytes), let loaded = try? image.load(into: memory) else { return }
    let end = loaded.range.start.rawValue + loaded.range.count
    if end > guestMemorySize { violated("a load reported 0x\(String(end, radix: 16)), past guest memory") }
    for entry in [loaded.entry64, loaded.pvhEntry].compactMap({ $0 }) where !loaded.range.contains(entry) {
        violated("entry \(entry) outside the loaded range \(loaded.range)")
    }
    switch image {
    case .bzImage(let bz):
        let kernel = Array(bz.protectedModeKernel.prefix(4096))
        if (try? memory.readBytes(count: kernel.count, at: loaded.range.start)) != kernel {
            violated("the protected-mode kernel is not at its load address")
        }
    case .elf(let elf):
        // A segment that another overlaps may be overwritten by it: only lone segments are compared.
        for (i, segment) in elf.segments.enumerated() where segment.fileSize > 0 {
            let overlapped = elf.segments.enumerated().contains { j, other in
                j != i && other.physicalAddress < segment.physicalAddress + segment.memorySize
                    && segment.physicalAddress < other.physicalAddress + other.memorySize
            }
            guard !overlapped else { continue }
            let count = Int(min(segment.fileSize, 4096)), start = Int(segment.fileOffset)
            if (try? memory.readBytes(count: count, at: GuestAddress(segment.physicalAddress)))
                != Array(bytes[start..<start + count])
            {
                violated("PT_LOAD[\(i)] is not at 0x\(String(segment.physicalAddress, radix: 16))")
            }
        }
    }
}

#if FUZZING
    /// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer.
    @_cdecl("kernel_fuzz_main")
    public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        runLibFuzzer(argc, argv, fuzzOne)
    }
#else
    @main
    struct KernelFuzzMain {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            if arguments.first == "--make-corpus", arguments.count == 2 {
                write(Synthetic.bzImage(), to: arguments[1] + "/synthetic-bzimage.bin")
                write(Synthetic.elf(), to: arguments[1] + "/synthetic-elf.bin")
                return
            }
            for path in arguments {
                guard let bytes = read(path) else {
                    print("cannot read \(path)")
                    exit(1)
                }
                fuzzOne(bytes)
                print("ok \(path)")
            }
        }

        static func read(_ path: String) -> [UInt8]? {
            guard let file = fopen(path, "rb") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, file)
                if n == 0 { break }
                bytes += chunk[0..<n]
            }
            return bytes
        }

        static func write(_ bytes: [UInt8], to path: String) {
            guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
            _ = fwrite(bytes, 1, bytes.count, file)
            fclose(file)
        }
    }
#endif
