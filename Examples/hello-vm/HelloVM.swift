// hello-vm: the smallest complete VM built from swift-vmm's targets. It creates a VM with 2 MiB
// of guest memory, puts one vCPU in 64-bit long mode, runs a tiny guest (Guest/hello.S) that
// prints a line through the emulated 16550 serial port, and exits 0 when the guest halts.
//
//     swift run hello-vm
import ArgumentParser
import DeviceModel
import GuestMemory
import HelloGuest
import KVM
import SystemPackage
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

let memorySize: UInt64 = 2 << 20
let entryPoint: UInt64 = 0x10000

func runHelloVM() throws -> VCPUOutcome {
    let kvm = try KVMSystem()
    let vm = try kvm.createVM()
    try vm.prepareForX86()

    // Guest RAM at address 0, registered with KVM through the GuestMemory bridge.
    let (memory, _) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: memorySize)])

    // The guest program, assembled at build time.
    let code = UnsafeBufferPointer(start: hello_guest_code(), count: hello_guest_size())
    try memory.write(contentsOf: code, at: GuestAddress(entryPoint))

    // One vCPU in long mode with its own CPUID, FPU and boot MSRs.
    let vcpu = try vm.createVCPU(id: 0)
    try vcpu.setCPUID(
        CPUIDBuilder.entries(from: kvm.supportedCPUID(), apicID: 0, topology: CPUTopology(coresPerPackage: 1)))
    try X86Setup.configureLongMode(
        vcpu, memory: memory, entry: entryPoint, stackPointer: 0x8000, identityMap: memorySize)
    try X86Setup.configureFPU(vcpu)
    try X86Setup.configureBootMSRs(vcpu)

    // COM1, printing to standard output.
    let ports = PortIOBus()
    try ports.insert(Serial16550(output: serialOutput()), base: 0x3f8, size: 8)

    let runner = VCPURunner(vcpu: vcpu, portIO: ports)
    try runner.start()
    return runner.waitUntilStopped()
}

/// `hello-vm`: no options; `--help` describes it.
@main
struct HelloVM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-vm",
        abstract: "Boot the smallest complete VM: one vCPU in long mode prints a line through a 16550 UART.",
        discussion: "Exit status: 0 when the guest halts cleanly, 1 otherwise (the reason on standard error).")

    func run() throws {
        let outcome: VCPUOutcome
        do {
            outcome = try runHelloVM()
        } catch {
            _ = try? FileDescriptor.standardError.writeAll("hello-vm: \(error)\n".utf8)
            throw ExitCode(1)
        }
        guard outcome == .halted else {
            _ = try? FileDescriptor.standardError.writeAll(
                "hello-vm: the guest did not halt cleanly: \(outcome)\n".utf8)
            throw ExitCode(1)
        }
    }
}
