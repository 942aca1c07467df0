import DeviceModel
import HostSupport
import DeviceModel
import KVM

/// Why a device could not be attached to a VM.
public enum DeviceAttachError: Error, Sendable, CustomStringConvertible {
    /// The interrupt has no eventfd (``DeviceModel/InterruptSignal/eventFD``), so it cannot
    /// become an irqfd.
    case interruptIsNotAnEventFD
    /// The register window could not be put on the MMIO bus (it overlaps another device).
    case bus(BusError)
    /// The hypervisor refused the ioeventfd or the irqfd.
    case kvm(KVMError)

    public var description: String {
        switch self {
        case .interruptIsNotAnEventFD: "the device interrupt must be an EventFD to become a KVM irqfd"
        case .bus(let error): "MMIO bus: \(error)"
        case .kvm(let error): "KVM: \(error)"
        }
    }
}

extension VirtioMMIOTransport {
    /// Wires the transport into a VM at `placement`:
    /// - puts it on `bus` at the register window;
    /// - registers ``queueNotify`` as a 4-byte ioeventfd on `QueueNotify`, so the guest's
    ///   notifications signal the queue worker inside the kernel, without an exit;
    /// - registers the interrupt's eventfd (``DeviceModel/InterruptSignal/eventFD``) as an irqfd on the placement's GSI (the VM needs the
    ///   in-kernel IRQ chip).
    public func attach(to vm: some EventFDRouting, bus: MMIOBus, placement: DevicePlacement) throws(DeviceAttachError) {
        guard let irq = interrupt.eventFD else { throw .interruptIsNotAnEventFD }
        do {
            try bus.insert(self, base: placement.mmioBase, size: placement.mmioSize)
        } catch { throw .bus(error) }
        do {
            try vm.registerIoEventFD(
                queueNotify, address: .mmio(placement.mmioBase + VirtioMMIORegister.queueNotify), length: 4,
                dataMatch: nil)
            try vm.registerIRQFD(irq, gsi: placement.gsi, resample: nil)
        } catch {
            _ = try? bus.remove(base: placement.mmioBase)
            throw .kvm(error)
        }
    }
}
