import DeviceModel
import GuestMemory
import KVM
import Synchronization
import TestSupport
import Testing
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

/// Every VCPU test that touches /dev/kvm lives under this suite.
@Suite(.usesKVM, .enabled(if: KVMSystem.isAvailable(), "/dev/kvm is not available (or not permitted) on this host"))
struct VCPUTests {}

/// vCPU set-up on the shared fixture (``TestSupport/TestVM``), which cannot use the VCPU target.
extension TestVM {
    /// A vCPU with per-vCPU CPUID (APIC id = `id`) for `count` vCPUs.
    func makeVCPU(id: UInt64, count: Int = 1) throws -> KVMVirtualCPU {
        let vcpu = try vm.createVCPU(id: id)
        try vcpu.setCPUID(
            try CPUIDBuilder.entries(
                from: kvm.supportedCPUID(), apicID: UInt32(id), topology: CPUTopology(coresPerPackage: count)))
        return vcpu
    }

    /// Loads 16-bit code at 0x1000 and puts the vCPU in real mode there.
    func startRealMode(_ vcpu: KVMVirtualCPU, code: [UInt8]) throws {
        try memory.write(contentsOf: code, at: GuestAddress(0x1000))
        try X86Setup.configureRealMode(vcpu, ip: 0x1000)
    }

    /// Loads 64-bit code at 0x10000 and puts the vCPU in long mode there.
    func startLongMode(_ vcpu: KVMVirtualCPU, code: [UInt8], stack: UInt64 = 0x8000) throws {
        try memory.write(contentsOf: code, at: GuestAddress(0x10000))
        try X86Setup.configureLongMode(vcpu, memory: memory, entry: 0x10000, stackPointer: stack)
        try X86Setup.configureFPU(vcpu)
    }
}

/// A port device that records every 32-bit value written to it.
final class RecorderDevice: PortIODevice {
    let values = Mutex<[UInt32]>([])
    func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
    }
    func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        var value: UInt32 = 0
        for (i, byte) in data.prefix(4).enumerated() { value |= UInt32(byte) << (8 * i) }
        values.withLock { $0.append(value) }
    }
    var recorded: [UInt32] { values.withLock { $0 } }
}

/// Guest programs used by the tests: machine code with its source beside it.
enum Guest {
    /// 64-bit: `mov eax, 1; cpuid; shr ebx, 24; mov esi, ebx; lea ecx, [rbx + 100];
    /// xor eax, eax; 1: add eax, ecx; dec ecx; jnz 1b; shl esi, 24; or eax, esi;
    /// mov dx, 0x20; out dx, eax; hlt` — reports (APIC id << 24) | Σ(1 … 100 + APIC id).
    static let apicSum: [UInt8] = [
        0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0xc1, 0xeb, 0x18, 0x89, 0xde, 0x8d, 0x4b, 0x64, 0x31,
        0xc0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0xc1, 0xe6, 0x18, 0x09, 0xf0, 0x66, 0xba, 0x20, 0x00,
        0xef, 0xf4,
    ]

    /// 16-bit: prints the NUL-terminated string at 0x1100 through the UART at 0x3f8, polling
    /// LSR.THRE before each byte: `mov si, 0x1100; 2: mov al, [si]; test al, al; jz 4f;
    /// mov bl, al; mov dx, 0x3fd; 3: in al, dx; test al, 0x20; jz 3b; mov dx, 0x3f8;
    /// mov al, bl; out dx, al; inc si; jmp 2b; 4: hlt`
    static let serialPrint: [UInt8] = [
        0xbe, 0x00, 0x11, 0x8a, 0x04, 0x84, 0xc0, 0x74, 0x13, 0x88, 0xc3, 0xba, 0xfd, 0x03, 0xec, 0xa8,
        0x20, 0x74, 0xfb, 0xba, 0xf8, 0x03, 0x88, 0xd8, 0xee, 0x46, 0xeb, 0xe7, 0xf4,
    ]

    /// 64-bit: `mov rbx, 0x10000000; mov dword [rbx], 0x11223344; mov eax, [rbx + 4];
    /// mov dx, 0x20; out dx, eax; hlt`
    static let mmioRoundTrip: [UInt8] = [
        0x48, 0xc7, 0xc3, 0x00, 0x00, 0x00, 0x10, 0xc7, 0x03, 0x44, 0x33, 0x22, 0x11, 0x8b, 0x43, 0x04,
        0x66, 0xba, 0x20, 0x00, 0xef, 0xf4,
    ]

    /// 64-bit: 20 rounds of `in eax, 0x30; acc = acc * 31 + eax; out 0x31, acc`, then hlt:
    /// `xor edi, edi; mov ecx, 20; 1: mov dx, 0x30; in eax, dx; imul edi, edi, 31;
    /// add edi, eax; mov eax, edi; mov dx, 0x31; out dx, eax; dec ecx; jnz 1b; hlt`
    static let inOutChain: [UInt8] = [
        0x31, 0xff, 0xb9, 0x14, 0x00, 0x00, 0x00, 0x66, 0xba, 0x30, 0x00, 0xed, 0x6b, 0xff, 0x1f, 0x01,
        0xc7, 0x89, 0xf8, 0x66, 0xba, 0x31, 0x00, 0xef, 0xff, 0xc9, 0x75, 0xeb, 0xf4,
    ]

    /// 64-bit: `ud2` with an empty IDT: #UD → #DF → triple fault.
    static let tripleFault: [UInt8] = [0x0f, 0x0b]

    /// 16-bit: `1: jmp 1b`
    static let spin: [UInt8] = [0xeb, 0xfe]
}

/// Σ 1…n.
func triangle(_ n: UInt32) -> UInt32 { n * (n + 1) / 2 }

/// Whether the kernel thread `tid` of this process still exists.
func threadExists(_ tid: Int32) -> Bool { access("/proc/self/task/\(tid)", F_OK) == 0 }
