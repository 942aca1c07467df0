import BlockStorage
import DeviceModel
import Devices
import Foundation
import Machine
import MiniVMMGuest

/// mini-vmm's machine, as a configuration: 16 MiB, the guest program as a flat binary entered
/// in long mode by every vCPU (RDI its index, RSI/RDX the disk's virtio-mmio window and GSI, RCX
/// the vCPU count, a 4 KiB stack each below 0x80000), one virtio-blk disk, the serial console;
/// plus the report device at port 0x500. The Machine target builds and runs it.
enum DemoVM {
    static let memorySize: UInt64 = 16 << 20
    static let maximumVCPUs = 16
    /// Where the vCPUs' stacks start (vCPU i's ends at 0x70000 + (i + 1) × 4 KiB).
    static let stackBase: UInt64 = 0x7_0000
    /// The guest program's file name in a run's directory.
    static let guestFile = "guest.bin"

    /// Writes the guest program (assembled into the MiniVMMGuest module) into `directory`;
    /// returns its path (a flat-binary boot source names a file).
    static func writeGuest(in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(guestFile)
        try Data(bytes: mini_vmm_guest_bytes(), count: mini_vmm_guest_size()).write(to: url)
        return url.path
    }

    /// The VM: `vcpus` vCPUs running the guest at `guest`, driving the disk at `disk`.
    static func configuration(
        name: String, vcpus: Int, guest: String, disk: String, readOnly: Bool, console: ConsoleConfiguration,
        scheduling: SchedulingConfiguration = SchedulingConfiguration(),
        deviceService: DeviceServiceConfiguration = DeviceServiceConfiguration()
    ) -> VirtualMachineConfiguration {
        VirtualMachineConfiguration(
            name: name, vcpuCount: vcpus, memorySize: memorySize,
            boot: .flatBinary(
                FlatBinaryBoot(
                    path: guest, loadAddress: UInt64(MINI_VMM_GUEST_LOAD_ADDRESS), mode: .long, stackBase: stackBase)),
            disks: [DiskConfiguration(path: disk, readOnly: readOnly)], console: console, scheduling: scheduling,
            deviceService: deviceService)
    }

    /// The report device, as `VirtualMachine(configuration:devices:)` takes it.
    static func attachment(_ reports: ReportDevice) -> DeviceAttachment {
        .portIO(reports, base: ReportDevice.base, size: ReportDevice.size)
    }
}
