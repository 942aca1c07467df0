import GuestMemory
import KVM

// README snippet: KVM
func readmeSnippetKVM() throws {
    let kvm = try KVMSystem()
    let vm = try kvm.createVM()
    try vm.prepareForX86()  // TSS and identity map; no in-kernel IRQ chip
    // 2 MiB of page-aligned anonymous RAM at guest address 0, registered as memory slot 0:
    let (ram, _) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: 2 << 20)])
    let code: [UInt8] = [0xb0, 0x2a, 0xe6, 0x10, 0xf4]  // mov al, 42; out 0x10, al; hlt
    try ram.write(contentsOf: code, at: GuestAddress(0x1000))
    let vcpu = try vm.createVCPU(id: 0)
    var sregs = try vcpu.specialRegisters()  // real mode, CS base 0
    sregs.cs.base = 0
    sregs.cs.selector = 0
    try vcpu.setSpecialRegisters(sregs)
    var regs = Registers()
    regs.rip = 0x1000
    regs.rflags = 0x2
    try vcpu.setRegisters(regs)
    guest: for _ in 0..<10 {
        switch try vcpu.run() {
        case .io(let io) where io.direction == .out: print("port \(io.port) <- \(io.value)")
        case .hlt: print("halted"); break guest
        default: break
        }
    }
}
