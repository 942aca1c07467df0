import Glibc
import GuestMemory
import KVM
import VCPU
import VCPUScheduler

// README snippet: VCPUScheduler
func readmeSnippetVCPUScheduler() throws {
    let ms: UInt64 = 1_000_000
    let vm = try KVMSystem().createVM()
    try vm.prepareForX86()
    let (memory, _) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: 2 << 20)])
    try memory.write(contentsOf: [0xeb, 0xfe] as [UInt8], at: GuestAddress(0x10000))  // jmp $: spins
    let dispatcher = try VCPUDispatcher(
        policy: WeightedFairPolicy(slice: 2 * ms), workers: 1, workerPriority: .realTimeFIFO(10))
    for i in 0..<3 {
        let vcpu = try vm.createVCPU(id: UInt64(i))
        try X86Setup.configureLongMode(vcpu, memory: memory, entry: 0x10000)
        let gated = GatedVCPU(id: VCPUID(UInt32(i)), vcpu: vcpu)  // a GatedVCPU<KVMVirtualCPU>
        try dispatcher.add(gated, parameters: SchedulingParameters(weight: SchedulingWeight(1 << UInt32(i))))
    }
    try dispatcher.start()
    usleep(300_000)  // 300 ms on one slot; a vCPU that halts waits for dispatcher.wake(VCPUID(i))
    dispatcher.stop()
    print(dispatcher.report().renderTable())  // T_cpu about 1:2:4
}
