// Tiny guests for the scheduler's real-vCPU tests, sched-demo and sched-bench: real-mode loops
// that OUT an incrementing counter to a port on every iteration, on gated vCPUs.
import DeviceModel
import GuestMemory
import KVM
import Synchronization
import VCPU
import VCPUScheduler

/// What each vCPU of a ``CounterVM`` runs (16-bit real mode at 0x1000).
public enum CounterProgram: Sendable {
    /// `xor eax, eax; mov dx, 0x80; 1: inc eax; out dx, eax; jmp 1b`: runs until kicked.
    case spin
    /// As `spin`, but every 64 iterations `hlt` (the vCPU blocks until woken):
    /// `… 1: inc eax; out dx, eax; test al, 0x3f; jnz 1b; hlt; jmp 1b`.
    case haltEvery64
    /// As `spin`, but every 64 iterations `out 0x81, al`, where the counter device calls
    /// ``GatedVCPU/blockForIO()``: `… 1: inc eax; out dx, eax; test al, 0x3f; jnz 1b;
    /// out 0x81, al; jmp 1b`.
    case ioWaitEvery64

    /// The machine code.
    public var code: [UInt8] {
        let prologue: [UInt8] = [0x66, 0x31, 0xc0, 0xba, 0x80, 0x00]  // xor eax, eax; mov dx, 0x80
        let body: [UInt8] = [0x66, 0x40, 0x66, 0xef]  // inc eax; out dx, eax
        switch self {
        case .spin: return prologue + body + [0xeb, 0xfa]  // jmp -6
        case .haltEvery64: return prologue + body + [0xa8, 0x3f, 0x75, 0xf8, 0xf4, 0xeb, 0xf5]
        case .ioWaitEvery64: return prologue + body + [0xa8, 0x3f, 0x75, 0xf8, 0xe6, 0x81, 0xeb, 0xf4]
        }
    }
}

/// The port device of one vCPU: port 0x80 takes the guest's counter (progress), port 0x81
/// starts an asynchronous "I/O" that ends the vCPU's slice until it is woken.
public final class ProgressCounter: PortIODevice {
    private let writes = Atomic<UInt64>(0)
    private let waiting = Atomic<Bool>(false)
    private let onIOStart = Mutex<(@Sendable () -> Void)?>(nil)

    /// A counter at zero.
    public init() {}

    /// Counter values written so far (loop iterations the guest completed).
    public var progress: UInt64 { writes.load(ordering: .relaxed) }

    /// Whether an I/O started on port 0x81 waits for ``completeIO()``.
    public var ioPending: Bool { waiting.load(ordering: .acquiring) }

    /// Marks a pending I/O complete; returns whether one was pending (then wake the vCPU).
    public func completeIO() -> Bool { waiting.exchange(false, ordering: .acquiringAndReleasing) }

    func setOnIOStart(_ body: @escaping @Sendable () -> Void) { onIOStart.withLock { $0 = body } }

    /// Reads as zero.
    public func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
    }

    /// Port 0x80: one more iteration; port 0x81: an I/O starts (the vCPU blocks).
    public func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        if offset == 0 {
            writes.add(1, ordering: .relaxed)
        } else {
            waiting.store(true, ordering: .releasing)
            onIOStart.withLock { $0 }?()
        }
    }
}

/// A KVM VM with 64 KiB of RAM and `count` gated vCPUs (ids `vm.0`, `vm.1`, …) running a
/// ``CounterProgram``, each with its own ``ProgressCounter`` on ports 0x80–0x81.
public final class CounterVM: Sendable {
    /// The KVM VM.
    public let vm: KVMVirtualMachine
    /// The bridge that registered the VM's RAM slot.
    public let bridge: GuestMemoryBridge<KVMVirtualMachine>
    /// The RAM as a guest memory map.
    public let memory: GuestMemoryMap
    /// The vCPUs, in index order.
    public let vcpus: [GatedVCPU<KVMVirtualCPU>]
    /// Each vCPU's counter device.
    public let counters: [ProgressCounter]

    /// Whether `/dev/kvm` can be opened here.
    public static var kvmAvailable: Bool { KVMSystem.isAvailable() }

    /// A VM with scheduler id `id` and `count` vCPUs running `program`; `kvm` is opened when
    /// not given.
    public init(id: VMID, vcpus count: Int, program: CounterProgram = .spin, kvm: KVMSystem? = nil) throws {
        let kvm = try kvm ?? KVMSystem()
        vm = try kvm.createVM()
        try vm.prepareForX86()
        (memory, bridge) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: 0x10000)])
        try memory.write(contentsOf: program.code, at: GuestAddress(0x1000))
        var vcpus: [GatedVCPU<KVMVirtualCPU>] = []
        var counters: [ProgressCounter] = []
        for index in 0..<count {
            let vcpu = try vm.createVCPU(id: UInt64(index))
            try X86Setup.configureRealMode(vcpu, ip: 0x1000)
            let counter = ProgressCounter()
            let bus = PortIOBus()
            try bus.insert(counter, base: 0x80, size: 2)
            let gated = GatedVCPU(id: VCPUID(vm: id, index: UInt32(index)), vcpu: vcpu, portIO: bus)
            counter.setOnIOStart { [weak gated] in gated?.blockForIO() }
            vcpus.append(gated)
            counters.append(counter)
        }
        self.vcpus = vcpus
        self.counters = counters
    }

    /// Stops every vCPU thread (after the dispatcher stopped).
    public func stop() {
        for vcpu in vcpus { vcpu.stop() }
    }
}
