import Foundation
import GuestMemory
import LinuxLoader
import LinuxLoaderFixtures
import TestSupport
import Testing

/// Loading puts exactly the image's bytes where the boot protocol or the ELF program headers
/// say, zeroes what a segment holds beyond its file bytes, reports the entry points, and writes
/// nothing when any part would fall outside guest memory. A real Debian kernel, as a bzImage and
/// as the vmlinux inside it, is read as binutils and `file` read it.
@Suite struct KernelLoadTests {
    static func memory(_ size: UInt64) throws -> GuestMemoryMap {
        try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: size)])
    }

    @Test func aBzImageGoesToItsPreferredAddress() throws {
        let bytes = Synthetic.bzImage()
        let image = try BzImage(bytes: bytes)
        let memory = try Self.memory(32 << 20)
        let kernel = try image.load(into: memory)
        #expect(kernel.kind == .bzImage && kernel.entry64 == GuestAddress(0x100_0200) && kernel.pvhEntry == nil)
        #expect(kernel.range == (try GuestAddressRange(start: GuestAddress(0x100_0000), count: 0x10_0000)))
        #expect(try memory.readBytes(count: 8192, at: GuestAddress(0x100_0000)) == Array(bytes[1024...]))
        #expect(kernel.setupHeader == Array(bytes[0x1F1..<0x268]) && kernel.bootProtocolVersion == 0x020F)
        // Elsewhere, if aligned to kernel_alignment (2 MiB) and at or above 1 MiB.
        let moved = try image.load(into: memory, at: GuestAddress(0x40_0000))
        #expect(moved.entry64 == GuestAddress(0x40_0200))
        #expect(
            throws: KernelImageError.invalidField(
                field: "load address", value: 0x50_0000,
                reason: "not at or above 1 MiB and aligned to kernel_alignment (2097152 bytes)")
        ) { try image.load(into: memory, at: GuestAddress(0x50_0000)) }
    }

    @Test func aLoadThatDoesNotFitWritesNothing() throws {
        // 16 MiB + 512 KiB: the kernel's 8 KiB fit at 16 MiB, its 1 MiB init_size does not.
        let memory = try Self.memory((16 << 20) + (512 << 10))
        #expect(
            throws: KernelImageError.doesNotFit(what: "the kernel's init_size", address: 0x100_0000, length: 0x10_0000)
        ) { try BzImage(bytes: Synthetic.bzImage()).load(into: memory) }
        #expect(try memory.readBytes(count: 8192, at: GuestAddress(0x100_0000)).allSatisfy { $0 == 0 })
        // An ELF segment of 8 KiB at 16 MiB in 16 MiB + 4 KiB.
        let small = try Self.memory((16 << 20) + 4096)
        #expect(throws: KernelImageError.doesNotFit(what: "PT_LOAD[0]", address: 0x100_0000, length: 0x2000)) {
            try ElfKernel(bytes: Synthetic.elf()).load(into: small)
        }
        #expect(try small.readBytes(count: 4096, at: GuestAddress(0x100_0000)).allSatisfy { $0 == 0 })
    }

    /// Found by the fuzz target: a `PT_LOAD` of no memory may name any address; it occupies
    /// nothing, so it neither widens the reported range nor needs guest memory.
    @Test func anEmptySegmentAnywhereOccupiesNothing() throws {
        var bytes = Synthetic.elf()
        Synthetic.put(UInt32(1), at: 120, in: &bytes)  // the PT_NOTE header becomes a PT_LOAD …
        Synthetic.put(UInt64(0x1000_0000_0000), at: 120 + 24, in: &bytes)  // … far away
        Synthetic.put(UInt64(0), at: 120 + 32, in: &bytes)
        Synthetic.put(UInt64(0), at: 120 + 40, in: &bytes)  // of no memory
        let memory = try Self.memory(32 << 20)
        let kernel = try ElfKernel(bytes: bytes).load(into: memory)
        #expect(kernel.range == (try GuestAddressRange(start: GuestAddress(0x100_0000), count: 0x2000)))
        #expect(kernel.pvhEntry == nil, "the note is gone")
    }

    @Test func anELFKernelGoesToItsPhysicalAddressesWithBSSZeroed() throws {
        let bytes = Synthetic.elf()
        let memory = try Self.memory(32 << 20)
        try memory.fill(0xCC, count: 0x2000, at: GuestAddress(0x100_0000))  // stale data where the BSS goes
        let kernel = try ElfKernel(bytes: bytes).load(into: memory)
        #expect(kernel.kind == .elf && kernel.entry64 == GuestAddress(0x100_0040))
        #expect(kernel.pvhEntry == GuestAddress(0x100_0080) && kernel.setupHeader.isEmpty)
        #expect(try memory.readBytes(count: 0x1000, at: GuestAddress(0x100_0000)) == Array(bytes[0x1000..<0x2000]))
        #expect(try memory.readBytes(count: 0x1000, at: GuestAddress(0x100_1000)).allSatisfy { $0 == 0 })
    }
}

/// The real kernel (Debian's cloud kernel, see `.ci/fetch-test-kernel.sh`): fields as `file` and
/// `readelf` read them, and loaded byte for byte.
@Suite(
    .enabled(if: TestKernels.available || ProcessInfo.processInfo.environment["CI"] != nil, "\(TestKernels.missing)"))
struct RealKernelTests {
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let result = try runProcess("/usr/bin/env", [tool] + arguments)
        try #require(result.status == 0, "\(tool) \(arguments): \(result.standardError)")
        return result.text
    }

    @Test func theBzImageReadsAsFileReadsIt() throws {
        let path = try #require(TestKernels.bzImage, "\(TestKernels.missing)")
        guard case .bzImage(let image) = try KernelImage(contentsOf: path) else {
            Issue.record("\(path) is not read as a bzImage")
            return
        }
        let header = image.header
        // `file` prints the version string the header points at.
        let described = try Self.run("file", ["-b", path])
        let version = try #require(header.kernelVersion)
        #expect(described.contains("version \(version)"), "\(described)")
        #expect(header.has64BitEntry && header.relocatable && header.version >= 0x020C)
        let memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: 256 << 20)])
        let kernel = try image.load(into: memory)
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let setup = Int(header.setupSize)
        #expect(kernel.entry64 == GuestAddress(header.preferredAddress + 0x200))
        #expect(kernel.range.count == UInt64(header.initSize))
        #expect(
            try memory.readBytes(count: file.count - setup, at: GuestAddress(header.preferredAddress))
                == Array(file[setup...]))
    }

    @Test func theVmlinuxReadsAsReadelfReadsIt() throws {
        let path = try #require(TestKernels.vmlinux, "\(TestKernels.missing)")
        guard case .elf(let image) = try KernelImage(contentsOf: path) else {
            Issue.record("\(path) is not read as an ELF kernel")
            return
        }
        // readelf -lW: "LOAD 0xOFFSET 0xVIRT 0xPHYS 0xFILESZ 0xMEMSZ …", one line per PT_LOAD.
        let programHeaders = try Self.run("readelf", ["-lW", path])
        let loads = programHeaders.split(separator: "\n").filter {
            $0.trimmingCharacters(in: .whitespaces).hasPrefix("LOAD")
        }
        .map { line -> ElfKernel.Segment in
            let f = line.split(separator: " ").map { UInt64($0.dropFirst(2), radix: 16) ?? 0 }
            return ElfKernel.Segment(physicalAddress: f[3], fileOffset: f[1], fileSize: f[4], memorySize: f[5])
        }
        #expect(image.segments == loads && !loads.isEmpty)
        let entryLine = try #require(programHeaders.split(separator: "\n").first { $0.hasPrefix("Entry point") })
        #expect(image.entry == UInt64(entryLine.split(separator: " ").last!.dropFirst(2), radix: 16))
        // readelf -n: the Xen note of type 0x12 and its 4 or 8 description bytes, little-endian.
        let notes = try Self.run("readelf", ["-n", path]).split(separator: "\n").map(String.init)
        let index = try #require(notes.firstIndex { $0.contains("Xen") && $0.contains("(0x00000012)") }, "no PVH note")
        let data = notes[index + 1].split(separator: ":").last!.split(separator: " ").compactMap {
            UInt8($0, radix: 16)
        }
        #expect(image.pvhEntry == data.reversed().reduce(0) { $0 << 8 | UInt64($1) })

        let memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: 256 << 20)])
        let kernel = try image.load(into: memory)
        #expect(
            kernel.pvhEntry == image.pvhEntry.map { GuestAddress($0) } && kernel.entry64 == GuestAddress(image.entry))
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for segment in image.segments {
            let start = Int(segment.fileOffset)
            #expect(
                try memory.readBytes(count: Int(segment.fileSize), at: GuestAddress(segment.physicalAddress))
                    == Array(file[start..<start + Int(segment.fileSize)]))
        }
    }
}

/// Every input of the kernel fuzz target's committed corpus (`Tests/KernelFuzz/Corpus`), findings
/// included, passes the target's checks (the plain build of `kernel-fuzz` replays files): a
/// fixed finding stays fixed.
@Suite(.enabled(if: builtExecutable(named: "kernel-fuzz") != nil, "kernel-fuzz not found next to the test bundle"))
struct KernelFuzzCorpusTests {
    @Test func everyCorpusInputPassesTheFuzzTargetsChecks() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("KernelFuzz/Corpus").path
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus).filter { !$0.hasSuffix(".md") }.sorted()
            .map { corpus + "/" + $0 }
        try #require(files.count >= 3, "the corpus is missing: \(corpus)")
        let result = try runProcess(try #require(builtExecutable(named: "kernel-fuzz")), files)
        #expect(result.status == 0, "\(result.standardError.prefix(2000))")
        for file in files { #expect(result.text.contains("ok \(file)\n"), "\(file) was not replayed") }
    }
}
