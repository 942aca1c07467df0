import DeviceModel
import Devices
import HostSupport
import KVM
import ResourceAllocator
import VHD

// README snippet: Devices
func readmeSnippetDevices() throws {
    let vm = try KVMSystem().createVM()
    try vm.prepareForX86(irqChip: .full)  // irqfds need the in-kernel IRQ chip
    let (memory, _) = try GuestMemoryBridge.mapRAM(on: vm, ranges: [(base: 0, size: 16 << 20)])
    let mmioBus = MMIOBus()  // the vCPUs' MMIO bus
    var layout = try X86_64Layout(memorySize: 16 << 20)
    DevicePlacement.reservePlatformIRQs(in: &layout)
    let placement = try DevicePlacement.allocate(in: &layout)  // MMIO page + GSI
    let block = try VirtioBlockDevice(disk: VHDImage.open(path: "disk.vhd"))
    let transport = try VirtioMMIOTransport(backend: block, memory: memory, interrupt: EventFD())
    try transport.attach(to: vm, bus: mmioBus, placement: placement)  // ioeventfd + irqfd
    let loop = try EventLoop(name: "vm0-io", polling: .adaptive)  // one per VM, per device or shared
    let registration = try loop.serve(transport)  // the ioeventfd, and a poller for its rings
    try loop.start()
    // … run the vCPUs with mmioBus …
    registration.cancel()
    loop.stop()
}
