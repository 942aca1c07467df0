import GuestMemory

/// An ELF `vmlinux` for x86_64: its `PT_LOAD` segments go to their physical addresses; it is
/// entered at `e_entry` through the 64-bit boot protocol, or, when it carries the Xen note
/// `XEN_ELFNOTE_PHYS32_ENTRY`, through PVH (32-bit protected mode with an `hvm_start_info`).
public struct ElfKernel: Sendable {
    /// One `PT_LOAD` segment.
    public struct Segment: Sendable, Hashable {
        /// `p_paddr`: where the segment goes in guest memory.
        public var physicalAddress: UInt64
        /// `p_offset`: where its bytes start in the file.
        public var fileOffset: UInt64
        /// `p_filesz`: bytes copied from the file.
        public var fileSize: UInt64
        /// `p_memsz`: bytes it occupies in memory (the rest after `fileSize` is zeroed).
        public var memorySize: UInt64

        /// A segment with these fields.
        public init(physicalAddress: UInt64, fileOffset: UInt64, fileSize: UInt64, memorySize: UInt64) {
            self.physicalAddress = physicalAddress
            self.fileOffset = fileOffset
            self.fileSize = fileSize
            self.memorySize = memorySize
        }
    }

    /// `e_entry`: the 64-bit entry point (a physical address in a Linux vmlinux).
    public let entry: UInt64
    /// The `PT_LOAD` segments, in file order.
    public let segments: [Segment]
    /// The PVH entry point from the `XEN_ELFNOTE_PHYS32_ENTRY` note, if the kernel has one.
    public let pvhEntry: UInt64?
    let bytes: [UInt8]

    /// The most program headers accepted (a vmlinux has a handful).
    public static let maximumProgramHeaders = 1024
    static let noteTypePhys32Entry: UInt32 = 18

    /// Whether `bytes` start with the ELF magic.
    static func recognizes(_ bytes: ByteReader) -> Bool {
        bytes.count >= 4 && bytes.bytes[0] == 0x7F && bytes.bytes[1] == 0x45 && bytes.bytes[2] == 0x4C
            && bytes.bytes[3] == 0x46
    }

    /// Parses and validates the ELF kernel in `bytes`.
    ///
    /// - Throws: a ``KernelImageError`` naming the field at fault (`e_machine`, `e_phoff`,
    ///   `PT_LOAD[i].p_filesz`, the PVH note …).
    public init(bytes: [UInt8]) throws(KernelImageError) {
        let file = ByteReader(bytes: bytes)
        try file.require("ELF header", offset: 0, length: 64)
        guard Self.recognizes(file) else { throw .unrecognized }
        guard bytes[4] == 2 else { throw .unsupported("ELF class \(bytes[4]): only 64-bit ELF files are loaded") }
        guard bytes[5] == 1 else {
            throw .unsupported("ELF data encoding \(bytes[5]): only little-endian files are loaded")
        }
        let machine = try file.value(UInt16.self, at: 0x12, in: "ELF header")
        guard machine == 62 else { throw .unsupported("e_machine \(machine): not x86_64 (62)") }
        let type = try file.value(UInt16.self, at: 0x10, in: "ELF header")
        guard type == 2 else { throw .invalidField(field: "e_type", value: UInt64(type), reason: "not ET_EXEC (2)") }
        entry = try file.value(UInt64.self, at: 0x18, in: "ELF header")
        let phoff = try file.value(UInt64.self, at: 0x20, in: "ELF header")
        let phentsize = try file.value(UInt16.self, at: 0x36, in: "ELF header")
        let phnum = try file.value(UInt16.self, at: 0x38, in: "ELF header")
        guard phentsize == 56 else {
            throw .invalidField(
                field: "e_phentsize", value: UInt64(phentsize), reason: "not 56, the size of an ELF64 program header")
        }
        guard phnum > 0, Int(phnum) <= Self.maximumProgramHeaders else {
            throw .invalidField(
                field: "e_phnum", value: UInt64(phnum), reason: "not between 1 and \(Self.maximumProgramHeaders)")
        }
        try file.require("program headers (e_phoff, e_phnum)", offset: phoff, length: UInt64(phnum) * 56)

        var segments: [Segment] = []
        var pvh: UInt64?
        for i in 0..<UInt64(phnum) {
            let at = phoff + i * 56
            let kind = try file.value(UInt32.self, at: at, in: "program header \(i)")
            let offset = try file.value(UInt64.self, at: at + 8, in: "program header \(i)")
            let physical = try file.value(UInt64.self, at: at + 24, in: "program header \(i)")
            let fileSize = try file.value(UInt64.self, at: at + 32, in: "program header \(i)")
            let memorySize = try file.value(UInt64.self, at: at + 40, in: "program header \(i)")
            switch kind {
            case 1:  // PT_LOAD
                let name = "PT_LOAD[\(segments.count)]"
                guard fileSize <= memorySize else {
                    throw .invalidField(
                        field: "\(name).p_filesz", value: fileSize, reason: "larger than p_memsz \(memorySize)")
                }
                try file.require("\(name) (p_offset, p_filesz)", offset: offset, length: fileSize)
                guard physical.addingReportingOverflow(memorySize).overflow == false else {
                    throw .invalidField(
                        field: "\(name).p_paddr", value: physical, reason: "p_paddr + p_memsz overflows 64 bits")
                }
                segments.append(
                    Segment(physicalAddress: physical, fileOffset: offset, fileSize: fileSize, memorySize: memorySize))
            case 4:  // PT_NOTE
                try file.require("PT_NOTE (p_offset, p_filesz)", offset: offset, length: fileSize)
                if let found = try Self.phys32Entry(in: file, offset: offset, length: fileSize) { pvh = found }
            default:
                continue
            }
        }
        guard !segments.isEmpty else {
            throw .invalidField(field: "e_phnum", value: UInt64(phnum), reason: "no PT_LOAD segment")
        }
        let entryPoint = entry
        guard
            segments.contains(where: {
                entryPoint >= $0.physicalAddress && entryPoint - $0.physicalAddress < $0.memorySize
            })
        else {
            throw .invalidField(field: "e_entry", value: entry, reason: "not inside a PT_LOAD segment")
        }
        if let pvh, !segments.contains(where: { pvh >= $0.physicalAddress && pvh - $0.physicalAddress < $0.memorySize })
        {
            throw .invalidField(field: "XEN_ELFNOTE_PHYS32_ENTRY", value: pvh, reason: "not inside a PT_LOAD segment")
        }
        self.segments = segments
        self.pvhEntry = pvh
        self.bytes = bytes
    }

    /// The `XEN_ELFNOTE_PHYS32_ENTRY` address among the notes of `length` bytes at `offset`.
    static func phys32Entry(in file: ByteReader, offset: UInt64, length: UInt64) throws(KernelImageError) -> UInt64? {
        var position = offset
        let end = offset + length
        func padded(_ n: UInt64) -> UInt64 { (n + 3) & ~3 }
        while end - position >= 12 {
            let nameSize = UInt64(try file.value(UInt32.self, at: position, in: "ELF note"))
            let descSize = UInt64(try file.value(UInt32.self, at: position + 4, in: "ELF note"))
            let type = try file.value(UInt32.self, at: position + 8, in: "ELF note")
            let name = position + 12
            guard padded(nameSize) <= end - name, padded(descSize) <= end - name - padded(nameSize) else {
                throw .invalidField(
                    field: "ELF note at \(position)", value: nameSize + descSize,
                    reason: "runs past its PT_NOTE segment")
            }
            let desc = name + padded(nameSize)
            if type == noteTypePhys32Entry, nameSize == 4, file.slice(name, 4) == [0x58, 0x65, 0x6E, 0x00] {  // "Xen\0"
                switch descSize {
                case 4: return UInt64(try file.value(UInt32.self, at: desc, in: "XEN_ELFNOTE_PHYS32_ENTRY"))
                case 8: return try file.value(UInt64.self, at: desc, in: "XEN_ELFNOTE_PHYS32_ENTRY")
                default:
                    throw .invalidField(
                        field: "XEN_ELFNOTE_PHYS32_ENTRY", value: descSize, reason: "descriptor not 4 or 8 bytes")
                }
            }
            position = desc + padded(descSize)
        }
        return nil
    }

    /// Copies every `PT_LOAD` segment to its physical address (zeroing what follows its file
    /// bytes up to its memory size) and returns where the kernel went and its entry points.
    /// Every segment is checked to lie in guest memory before anything is written.
    public func load(into memory: some GuestMemoryAccess) throws(KernelImageError) -> LoadedKernel {
        for (i, segment) in segments.enumerated() {
            try requireGuestMemory("PT_LOAD[\(i)]", at: segment.physicalAddress, length: segment.memorySize, in: memory)
        }
        for (i, segment) in segments.enumerated() {
            do {
                try memory.write(
                    contentsOf: bytes[Int(segment.fileOffset)..<Int(segment.fileOffset + segment.fileSize)],
                    at: GuestAddress(segment.physicalAddress))
                if segment.memorySize > segment.fileSize {
                    try memory.fill(
                        0, count: Int(segment.memorySize - segment.fileSize),
                        at: GuestAddress(segment.physicalAddress + segment.fileSize))
                }
            } catch {
                throw .doesNotFit(what: "PT_LOAD[\(i)]", address: segment.physicalAddress, length: segment.memorySize)
            }
        }
        // A segment of no memory occupies nothing (and may name any address): it does not count.
        // One segment at least holds e_entry, so `occupied` is not empty.
        let occupied = segments.filter { $0.memorySize > 0 }
        let low = occupied.map(\.physicalAddress).min()!
        let high = occupied.map { $0.physicalAddress + $0.memorySize }.max()!
        guard let range = try? GuestAddressRange(start: GuestAddress(low), count: high - low) else {
            throw .doesNotFit(what: "the kernel", address: low, length: high - low)
        }
        return LoadedKernel(
            kind: .elf, range: range, entry64: GuestAddress(entry), pvhEntry: pvhEntry.map { GuestAddress($0) },
            setupHeader: [], bootProtocolVersion: nil)
    }
}
