import KVM
import VCPU

/// Why a device could not be attached to a VM.
public enum DeviceAttachError: Error, Sendable, CustomStringConvertible {
    /// The interrupt is not an ``KVM/EventFD``, so it cannot be an irqfd.
    case interruptIsNotAnEventFD
    case bus(BusError)
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
    /// - registers the interrupt eventfd as an irqfd on the placement's GSI (the VM needs the
    ///   in-kernel IRQ chip).
    public func attach(to vm: KVMVirtualMachine, bus: MMIOBus, placement: DevicePlacement) throws(DeviceAttachError) {
        guard let irq = interrupt as? EventFD else { throw .interruptIsNotAnEventFD }
        do {
            try bus.insert(self, base: placement.mmioBase, size: placement.mmioSize)
        } catch { throw .bus(error) }
        do {
            try vm.registerIoEventFD(
                queueNotify, address: .mmio(placement.mmioBase + VirtioMMIORegister.queueNotify), length: 4)
            try vm.registerIRQFD(irq, gsi: placement.gsi)
        } catch {
            _ = try? bus.remove(base: placement.mmioBase)
            throw .kvm(error)
        }
    }
}
