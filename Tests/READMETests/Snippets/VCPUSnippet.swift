import DeviceModel
import GuestMemory
import KVM
import VCPU

// README snippet: VCPU
func readmeSnippetVCPU() throws {
    let vm = try KVMSystem().createVM()
    try vm.prepareForX86()
    let (memory, _) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: 2 << 20)])
    // mov dx, 0x3f8; mov al, 'K'; out dx, al; mov al, 10; out dx, al; hlt
    let code: [UInt8] = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4b, 0xee, 0xb0, 0x0a, 0xee, 0xf4]
    try memory.write(contentsOf: code, at: GuestAddress(0x10000))
    let vcpu = try vm.createVCPU(id: 0)
    try X86Setup.configureLongMode(vcpu, memory: memory, entry: 0x10000)
    let ports = PortIOBus()
    try ports.insert(Serial16550(output: serialOutput()), base: 0x3f8, size: 8)
    let runner = VCPURunner(vcpu: vcpu, portIO: ports)  // a VCPURunner<KVMVirtualCPU>
    try runner.start()
    print(runner.waitUntilStopped())  // .halted
}
