import GuestMemory

/// The PVH boot structure (`struct hvm_start_info`, version 1, from Xen's public
/// `arch-x86/hvm/start_info.h`): what a kernel entered at its PVH entry point finds through EBX —
/// the command line, the memory map, the initrd as a module, the ACPI RSDP
/// (``BootParameters/acpiRSDP``).
///
/// Layout written by ``write(_:kernel:at:commandLineAddress:into:)``: the 56-byte structure
/// at `address`, then the memory map (24 bytes per entry), then the module list (32 bytes, when
/// there is an initrd).
public enum PVHStartInfo {
    /// `XEN_HVM_START_MAGIC_VALUE`.
    public static let magic: UInt32 = 0x336E_C578
    /// The size of `hvm_start_info` (version 1).
    public static let size = 56
    /// The size of one `hvm_memmap_table_entry`.
    public static let memoryMapEntrySize = 24
    /// The size of one `hvm_modlist_entry`.
    public static let moduleEntrySize = 32

    /// The bytes of the structure, its memory map and its module list, for a structure at
    /// `address` and a command line at `commandLineAddress`.
    public static func bytes(
        _ parameters: BootParameters, at address: GuestAddress, commandLineAddress: GuestAddress
    ) -> [UInt8] {
        let map = parameters.memoryMap.entries
        let memoryMap = address.rawValue + UInt64(size)
        let modules = memoryMap + UInt64(map.count * memoryMapEntrySize)
        var bytes = [UInt8](
            repeating: 0,
            count: size + map.count * memoryMapEntrySize + (parameters.initrd == nil ? 0 : moduleEntrySize))
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
        }
        put(magic, at: 0)
        put(UInt32(1), at: 4)  // version
        put(UInt32(parameters.initrd == nil ? 0 : 1), at: 12)  // nr_modules
        put(parameters.initrd == nil ? 0 : modules, at: 16)  // modlist_paddr
        put(commandLineAddress.rawValue, at: 24)  // cmdline_paddr
        put(parameters.acpiRSDP?.rawValue ?? 0, at: 32)  // rsdp_paddr
        put(memoryMap, at: 40)  // memmap_paddr
        put(UInt32(map.count), at: 48)  // memmap_entries
        for (i, entry) in map.enumerated() {
            let at = size + i * memoryMapEntrySize
            put(entry.address, at: at)
            put(entry.size, at: at + 8)
            put(entry.kind.rawValue, at: at + 16)
        }
        if let initrd = parameters.initrd {
            let at = size + map.count * memoryMapEntrySize
            put(initrd.start.rawValue, at: at)
            put(initrd.count, at: at + 8)
        }
        return bytes
    }

    /// Writes the structure at `address` and the command line at `commandLineAddress` (checked
    /// against each other, the kernel and the initrd first: nothing is written otherwise). Enter
    /// the kernel at `kernel.pvhEntry` in 32-bit protected mode, paging off, with EBX = `address`.
    public static func write(
        _ parameters: BootParameters, kernel: LoadedKernel, at address: GuestAddress, commandLineAddress: GuestAddress,
        into memory: some GuestMemoryAccess
    ) throws(BootParametersError) {
        let commandLine = try parameters.commandLineBytes(for: kernel)
        let info = bytes(parameters, at: address, commandLineAddress: commandLineAddress)
        try parameters.placeStructures(
            [
                ("the hvm_start_info", address, UInt64(info.count)),
                ("the command line", commandLineAddress, UInt64(commandLine.count)),
            ], kernel: kernel, in: memory)
        do {
            try memory.write(contentsOf: info, at: address)
            try memory.write(contentsOf: commandLine, at: commandLineAddress)
        } catch {
            throw .doesNotFit(what: "the hvm_start_info", address: address.rawValue, length: UInt64(info.count))
        }
    }
}
