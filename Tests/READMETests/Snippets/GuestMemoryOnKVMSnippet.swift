import GuestMemory
import KVM

// README snippet: GuestMemory on KVM
func readmeSnippetGuestMemoryOnKVM() throws {
    let vm = try KVMSystem().createVM()
    try vm.prepareForX86()
    try vm.enableDirtyRing(bytes: 65536)  // or .bitmap(manualProtection:) below
    let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: 2 << 20)]))
    let bridge = GuestMemoryBridge(vm: vm, tracking: .ring)
    try bridge.apply(memory.map)  // every region becomes a slot
    let vcpu = try vm.createVCPU(id: 0)
    // … run the guest; hotplug: try memory.insert(region); try bridge.apply(memory.map)
    let dirty = try bridge.collectDirtyPages(vcpus: [vcpu])  // guest + host writes, cleared
    print(dirty.count)
}
