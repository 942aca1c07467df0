import GuestMemory
import KVM
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every test that touches /dev/kvm lives under this suite, skipped with a reason when the host
/// has no usable KVM. The `.usesKVM` gate keeps the descriptor-leak test (exclusive) apart
/// from the KVM tests of every other target.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct KVMTests {}

/// Anonymous, page-aligned host memory that backs guest RAM in tests; unmapped on release.
final class HostMemory {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(size: Int) {
        let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        precondition(address != MAP_FAILED, "test memory mmap failed")
        base = address!
        self.size = size
    }

    deinit { munmap(base, size) }

    func write(_ bytes: [UInt8], at offset: Int) {
        precondition(offset + bytes.count <= size)
        (base + offset).copyMemory(from: bytes, byteCount: bytes.count)
    }

    func write64(_ value: UInt64, at offset: Int) {
        (base + offset).storeBytes(of: value.littleEndian, as: UInt64.self)
    }

    func byte(at offset: Int) -> UInt8 { base.load(fromByteOffset: offset, as: UInt8.self) }
}

/// Guest RAM at guest physical address 0 as the KVM tests write it: byte offsets, little-endian.
struct GuestRAM {
    let memory: GuestMemoryMap

    func write(_ bytes: [UInt8], at offset: Int) throws {
        try memory.write(contentsOf: bytes, at: GuestAddress(UInt64(offset)))
    }

    func write64(_ value: UInt64, at offset: Int) throws { try memory.write(value, at: GuestAddress(UInt64(offset))) }
}

/// A VM with one vCPU and guest RAM at guest physical address 0: the shared fixture
/// (`TestSupport.TestVM`) plus the vCPU the KVM tests drive by hand.
struct TestMachine {
    /// The VM and its RAM.
    let base: TestVM
    let vcpu: KVMVirtualCPU
    /// Guest RAM, written by the host through the bounds-checked guest memory map.
    let ram: GuestRAM

    var kvm: KVMSystem { base.kvm }
    var vm: KVMVirtualMachine { base.vm }

    /// Creates the VM; `prepare` runs before the RAM and the vCPU exist (IRQ chip, dirty ring …).
    init(ramSize: Int = 0x4000, prepare: (KVMVirtualMachine) throws -> Void = { _ in }) throws {
        base = try TestVM(ramSize: UInt64(ramSize), prepare: prepare)
        ram = GuestRAM(memory: base.memory)
        vcpu = try base.vm.createVCPU(id: 0)
    }

    /// Loads 16-bit code at `entry` and points the vCPU at it in real mode (CS base 0).
    func loadRealMode(_ code: [UInt8], entry: UInt64 = 0x1000, registers: (inout Registers) -> Void = { _ in })
        throws
    {
        try ram.write(code, at: Int(entry))
        try vcpu.enterRealMode(at: entry, registers: registers)
    }

    /// Runs until an exit other than `.interrupted` and returns it.
    func runToExit() throws -> VMExit { try vcpu.runToExit() }
}

extension KVMVirtualCPU {
    /// Points the vCPU at 16-bit code at `entry` in real mode (CS base 0).
    func enterRealMode(at entry: UInt64, registers: (inout Registers) -> Void = { _ in }) throws {
        var sregs = try specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        try setSpecialRegisters(sregs)
        var regs = Registers()
        regs.rip = entry
        regs.rflags = 0x2
        registers(&regs)
        try setRegisters(regs)
    }

    /// Runs until an exit other than `.interrupted` and returns it.
    func runToExit() throws -> VMExit {
        while true {
            let exit = try run()
            if case .interrupted = exit { continue }
            return exit
        }
    }
}

/// Guest programs used by the tests: machine code, with its source beside it.
enum Guest {
    /// `mov dx, 0x3f8; in al, dx; add al, 1; out dx, al; hlt`
    static let inAddOut: [UInt8] = [0xba, 0xf8, 0x03, 0xec, 0x04, 0x01, 0xee, 0xf4]

    /// `mov byte [0x8000], 0x5a; mov word [0x8010], 0x1234; mov eax, [0x8020];
    ///  mov dx, 0x10; out dx, eax; hlt`
    static let mmio: [UInt8] = [
        0xc6, 0x06, 0x00, 0x80, 0x5a, 0xc7, 0x06, 0x10, 0x80, 0x34, 0x12, 0x66, 0xa1, 0x20, 0x80,
        0xba, 0x10, 0x00, 0x66, 0xef, 0xf4,
    ]

    /// 64-bit: `mov rax, 0x1122334455667788; add rax, rbx; mov dx, 0x10; out dx, eax; hlt`
    static let longMode: [UInt8] = [
        0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x48, 0x01, 0xd8, 0x66, 0xba,
        0x10, 0x00, 0xef, 0xf4,
    ]

    /// `mov ax, 0x1000; mov ds, ax; mov byte [0x2000], 1; mov dx, 0x10; out dx, al;
    ///  mov byte [0x5000], 1; mov byte [0xf000], 1; hlt` — dirties pages 2, then 5 and 15, of
    /// the slot at 0x10000.
    static let dirtyPages: [UInt8] = [
        0xb8, 0x00, 0x10, 0x8e, 0xd8, 0xc6, 0x06, 0x00, 0x20, 0x01, 0xba, 0x10, 0x00, 0xee, 0xc6,
        0x06, 0x00, 0x50, 0x01, 0xc6, 0x06, 0x00, 0xf0, 0x01, 0xf4,
    ]

    /// `mov dx, 0x500; mov al, 7; out dx, al; mov al, 8; out dx, al;
    ///  mov dword [0x9000], 0x12345678; hlt`
    static let ioEvents: [UInt8] = [
        0xba, 0x00, 0x05, 0xb0, 0x07, 0xee, 0xb0, 0x08, 0xee, 0x66, 0xc7, 0x06, 0x00, 0x90, 0x78,
        0x56, 0x34, 0x12, 0xf4,
    ]

    /// `1: jmp 1b`
    static let spin: [UInt8] = [0xeb, 0xfe]

    /// `mov dx, 0x3f8; add al, bl; add al, '0'; out dx, al; mov al, 10; out dx, al; hlt`
    static let addAndPrint: [UInt8] = [0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4]
}

/// Byte-wise equality of two C structures.
func sameBytes<T>(_ a: T, _ b: T) -> Bool {
    withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { y in x.elementsEqual(y) } }
}

/// Whether this host's KVM has `capability` (false without a usable /dev/kvm).
func hostHas(_ capability: KVMCapability) -> Bool {
    (try? KVMSystem())?.has(capability) ?? false
}
