import DeviceModel
import Devices
import GuestMemory
import HostSupport
import KVM

/// A virtio device of a VM other than a disk (the virtio console, the entropy device): the
/// backend, its transport and where it sits.
struct MachineVirtioDevice<Device: VirtioDeviceBackend>: Sendable {
    let device: Device
    let transport: VirtioMMIOTransport
    let placement: DevicePlacement

    /// `device` behind a new transport over `memory`, attached to `vm` and `bus` at `placement`
    /// and served as the configuration's device service says.
    init(
        _ device: Device, placement: DevicePlacement, vm: KVMVirtualMachine, bus: MMIOBus, memory: GuestMemoryMap,
        _ configuration: VirtualMachineConfiguration
    ) throws {
        self.device = device
        self.placement = placement
        transport = try VirtioMMIOTransport(backend: device, memory: memory, interrupt: EventFD(nonBlocking: true))
        try transport.attach(to: vm, bus: bus, placement: placement, service: configuration.deviceService.queues)
    }
}
