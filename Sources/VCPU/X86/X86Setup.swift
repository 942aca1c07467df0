import GuestMemory
import KVM

/// Puts a vCPU into the state a boot protocol expects: real mode, 32-bit protected mode or
/// 64-bit long mode with identity-mapped page tables, plus the FPU, boot MSRs and LAPIC
/// defaults a Linux-style VMM sets (Firecracker's and Cloud Hypervisor's values).
public enum X86Setup {
    /// Real mode: CS base `codeSegment << 4`, IP `ip`, flat 64 KiB segments, no paging.
    public static func configureRealMode(
        _ vcpu: any VirtualCPUHandle, codeSegment: UInt16 = 0, ip: UInt16, stackPointer: UInt16 = 0
    ) throws(X86SetupError) {
        try wrapKVM { () throws(KVMError) in
            var sregs = try vcpu.specialRegisters()
            sregs.cs.selector = codeSegment
            sregs.cs.base = UInt64(codeSegment) << 4
            for keyPath in [\SpecialRegisters.ds, \.es, \.fs, \.gs, \.ss] {
                sregs[keyPath: keyPath].selector = 0
                sregs[keyPath: keyPath].base = 0
            }
            sregs.cr0 &= ~UInt64(0x8000_0001)  // clear PG and PE
            try vcpu.setSpecialRegisters(sregs)
            try setEntryRegisters(vcpu, rip: UInt64(ip), stackPointer: UInt64(stackPointer))
        }
    }

    /// 32-bit protected mode with flat 4 GiB code and data segments, no paging.
    public static func configureProtectedMode(
        _ vcpu: any VirtualCPUHandle, memory: some GuestMemoryAccess, entry: UInt32, stackPointer: UInt32 = 0,
        layout: X86BootLayout = X86BootLayout()
    ) throws(X86SetupError) {
        let gdt = try writeDescriptorTables(memory: memory, layout: layout, code: GDT.code32)
        try wrapKVM { () throws(KVMError) in
            var sregs = try vcpu.specialRegisters()
            loadSegments(&sregs, gdt: gdt, layout: layout)
            sregs.cr0 = (sregs.cr0 | 0x1) & ~UInt64(0x8000_0000)  // PE, no PG
            sregs.efer = 0
            try vcpu.setSpecialRegisters(sregs)
            try setEntryRegisters(vcpu, rip: UInt64(entry), stackPointer: UInt64(stackPointer))
        }
    }

    /// 64-bit long mode: GDT and empty IDT written at `layout`, identity page tables for the low
    /// `identityMap` bytes, CR0 = PE|MP|ET|NE|WP|AM|PG, CR4.PAE, EFER = LME|LMA.
    public static func configureLongMode(
        _ vcpu: any VirtualCPUHandle, memory: some GuestMemoryAccess, entry: UInt64, stackPointer: UInt64 = 0,
        identityMap: UInt64 = 1 << 30, pageSize: IdentityPageSize = .twoMiB, layout: X86BootLayout = X86BootLayout()
    ) throws(X86SetupError) {
        let tables = try IdentityPageTables(base: layout.pageTables, size: identityMap, pageSize: pageSize)
        try tables.write(to: memory)
        let gdt = try writeDescriptorTables(memory: memory, layout: layout, code: GDT.code64)
        try wrapKVM { () throws(KVMError) in
            var sregs = try vcpu.specialRegisters()
            loadSegments(&sregs, gdt: gdt, layout: layout)
            sregs.cr3 = tables.cr3
            sregs.cr4 |= 1 << 5  // PAE
            sregs.cr0 = 0x8005_0033
            sregs.efer |= 0x500  // LME | LMA
            try vcpu.setSpecialRegisters(sregs)
            try setEntryRegisters(vcpu, rip: entry, stackPointer: stackPointer)
        }
    }

    /// Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"):
    /// long mode with the low `identityMap` bytes identity-mapped (4 GiB by default: the kernel,
    /// the zero page, the command line and the initrd below 4 GiB are all covered), a GDT with
    /// flat `__BOOT_CS` (0x10) and `__BOOT_DS` (0x18) (``X86BootLayout/linux``), interrupts
    /// disabled, RIP at `entry` (`LoadedKernel.entry64`) and RSI holding `zeroPage`.
    public static func configureLinux64(
        _ vcpu: any VirtualCPUHandle, memory: some GuestMemoryAccess, entry: UInt64, zeroPage: GuestAddress,
        identityMap: UInt64 = 1 << 32, layout: X86BootLayout = .linux
    ) throws(X86SetupError) {
        try configureLongMode(vcpu, memory: memory, entry: entry, identityMap: identityMap, layout: layout)
        try wrapKVM { () throws(KVMError) in
            var regs = try vcpu.registers()
            regs.rsi = zeroPage.rawValue
            try vcpu.setRegisters(regs)
        }
    }

    /// The PVH boot ABI (Xen's `docs/misc/pvh.pandoc`, which Linux's `CONFIG_PVH` entry follows):
    /// 32-bit protected mode, paging off, flat 4 GiB code and data segments, interrupts
    /// disabled, EIP at `entry` (`LoadedKernel.pvhEntry`) and EBX holding `startInfo` (the
    /// `hvm_start_info` written by `PVHStartInfo`).
    public static func configurePVH(
        _ vcpu: any VirtualCPUHandle, memory: some GuestMemoryAccess, entry: UInt32, startInfo: GuestAddress,
        layout: X86BootLayout = X86BootLayout()
    ) throws(X86SetupError) {
        guard startInfo.rawValue <= UInt64(UInt32.max) else {
            throw .invalidLayout("the hvm_start_info at 0x\(String(startInfo.rawValue, radix: 16)) is above 4 GiB")
        }
        try configureProtectedMode(vcpu, memory: memory, entry: entry, layout: layout)
        try wrapKVM { () throws(KVMError) in
            var sregs = try vcpu.specialRegisters()
            sregs.cr4 = 0
            try vcpu.setSpecialRegisters(sregs)
            var regs = try vcpu.registers()
            regs.rbx = startInfo.rawValue
            try vcpu.setRegisters(regs)
        }
    }

    /// x87 and SSE defaults: FCW 0x37f (all exceptions masked, extended precision), MXCSR 0x1f80.
    public static func configureFPU(_ vcpu: some X86VirtualCPUState) throws(X86SetupError) {
        try wrapKVM { () throws(KVMError) in
            var fpu = FPUState()
            fpu.fcw = 0x37f
            fpu.mxcsr = 0x1f80
            try vcpu.setFPU(fpu)
        }
    }

    /// The MSRs a VMM initialises at boot: SYSENTER and SYSCALL MSRs cleared, TSC 0,
    /// MISC_ENABLE with fast strings, MTRR default type write-back and enabled.
    public static let bootMSRs: [MSREntry] = [
        MSREntry(index: MSRIndex.sysenterCS), MSREntry(index: MSRIndex.sysenterESP),
        MSREntry(index: MSRIndex.sysenterEIP), MSREntry(index: MSRIndex.star), MSREntry(index: MSRIndex.cstar),
        MSREntry(index: MSRIndex.kernelGSBase), MSREntry(index: MSRIndex.syscallMask),
        MSREntry(index: MSRIndex.lstar), MSREntry(index: MSRIndex.tsc),
        MSREntry(index: MSRIndex.miscEnable, data: 1),  // fast strings
        MSREntry(index: MSRIndex.mtrrDefType, data: (1 << 11) | 6),  // enabled, write-back
    ]

    /// Writes ``bootMSRs``.
    public static func configureBootMSRs(_ vcpu: some X86VirtualCPUState) throws(X86SetupError) {
        try wrapKVM { () throws(KVMError) in try vcpu.setMSRs(bootMSRs) }
    }

    /// Local APIC local-interrupt pins as a PC wires them: LINT0 delivers ExtINT (the PIC),
    /// LINT1 delivers NMI. Needs the in-kernel IRQ chip.
    public static func configureLAPIC(_ vcpu: some X86VirtualCPUState) throws(X86SetupError) {
        try wrapKVM { () throws(KVMError) in
            var lapic = try vcpu.lapic()
            withUnsafeMutableBytes(of: &lapic.regs) { regs in
                for (offset, mode) in [(0x350, UInt32(7)), (0x360, UInt32(4))] {  // LVT LINT0, LINT1
                    let value = regs.load(fromByteOffset: offset, as: UInt32.self)
                    regs.storeBytes(of: (value & ~0x700) | (mode << 8), toByteOffset: offset, as: UInt32.self)
                }
            }
            try vcpu.setLAPIC(lapic)
        }
    }

    // MARK: Helpers

    /// Clears the general registers and sets RIP, RSP = RBP and RFLAGS (only the reserved bit 1).
    static func setEntryRegisters(_ vcpu: any VirtualCPUHandle, rip: UInt64, stackPointer: UInt64) throws(KVMError) {
        var regs = Registers()
        regs.rip = rip
        regs.rsp = stackPointer
        regs.rbp = stackPointer
        regs.rflags = 0x2
        try vcpu.setRegisters(regs)
    }

    /// Writes the boot GDT (`code`, data and TSS descriptors at the layout's indices, null
    /// elsewhere) and an empty IDT; returns the GDT entries.
    static func writeDescriptorTables(memory: some GuestMemoryAccess, layout: X86BootLayout, code: UInt16)
        throws(X86SetupError) -> [UInt64]
    {
        try layout.validate()
        var gdt = [UInt64](repeating: 0, count: layout.gdtEntries)
        gdt[Int(layout.codeIndex)] = GDT.entry(flags: code, base: 0, limit: 0xfffff)
        gdt[Int(layout.dataIndex)] = GDT.entry(flags: GDT.data, base: 0, limit: 0xfffff)
        gdt[Int(layout.tssIndex)] = GDT.entry(flags: GDT.tss, base: 0, limit: 0xfffff)
        do {
            for (i, entry) in gdt.enumerated() {
                try memory.write(entry, at: GuestAddress(layout.gdt.rawValue + UInt64(i) * 8))
            }
            try memory.write(UInt64(0), at: layout.idt)
        } catch {
            throw .memory(error)
        }
        return gdt
    }

    /// Loads CS, DS…SS, TR, GDTR and IDTR from the boot GDT.
    static func loadSegments(_ sregs: inout SpecialRegisters, gdt: [UInt64], layout: X86BootLayout) {
        let code = GDT.segment(entry: gdt[Int(layout.codeIndex)], index: layout.codeIndex)
        let data = GDT.segment(entry: gdt[Int(layout.dataIndex)], index: layout.dataIndex)
        sregs.cs = code
        sregs.ds = data
        sregs.es = data
        sregs.fs = data
        sregs.gs = data
        sregs.ss = data
        sregs.tr = GDT.segment(entry: gdt[Int(layout.tssIndex)], index: layout.tssIndex)
        sregs.gdt.base = layout.gdt.rawValue
        sregs.gdt.limit = UInt16(gdt.count * 8 - 1)
        sregs.idt.base = layout.idt.rawValue
        sregs.idt.limit = 7
    }
}

/// Runs KVM calls, mapping their errors into ``X86SetupError``.
@inline(__always)
func wrapKVM<R>(_ body: () throws(KVMError) -> R) throws(X86SetupError) -> R {
    do { return try body() } catch { throw .kvm(error) }
}
