import DeviceModel
import HostSupport
import KVM

/// Why a device could not be attached to a VM.
public enum DeviceAttachError: Error, Sendable, CustomStringConvertible {
    /// The interrupt has no eventfd (`InterruptSignal.eventFD` is nil), so it cannot
    /// become an irqfd.
    case interruptIsNotAnEventFD
    /// The register window could not be put on the MMIO bus (it overlaps another device).
    case bus(BusError)
    /// The hypervisor refused the ioeventfd or the irqfd.
    case kvm(KVMError)

    /// A one-line English description of the failure.
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
    /// - with `service` ``VirtioQueueService/eventLoop`` (the default), registers ``queueNotify``
    ///   as a 4-byte ioeventfd on `QueueNotify`, so the guest's notifications signal the event
    ///   loop inside the kernel, without an exit (serve the transport on a loop:
    ///   `loop.serve(transport)`); with ``VirtioQueueService/inline``, registers none, so a
    ///   notification exits to the vCPU, which serves the queues there;
    /// - registers the interrupt's eventfd (`InterruptSignal.eventFD`) as an irqfd on the
    ///   placement's GSI (the VM needs the in-kernel IRQ chip).
    ///
    /// - Throws: ``DeviceAttachError/interruptIsNotAnEventFD`` before anything changes;
    ///   ``DeviceAttachError/bus(_:)`` when the window overlaps another device;
    ///   ``DeviceAttachError/kvm(_:)`` when KVM refuses a registration (whatever was registered
    ///   is unregistered and the transport is taken off the bus again: nothing stays wired).
    public func attach(
        to vm: some EventFDRouting, bus: MMIOBus, placement: DevicePlacement, service: VirtioQueueService = .eventLoop
    ) throws(DeviceAttachError) {
        guard let irq = interrupt.eventFD else { throw .interruptIsNotAnEventFD }
        do {
            try bus.insert(self, base: placement.mmioBase, size: placement.mmioSize)
        } catch { throw .bus(error) }
        let notifyAddress = IoEventAddress.mmio(placement.mmioBase + VirtioMMIORegister.queueNotify)
        if service == .eventLoop {
            do {
                try vm.registerIoEventFD(queueNotify, address: notifyAddress, length: 4, dataMatch: nil)
            } catch {
                _ = try? bus.remove(base: placement.mmioBase)
                throw .kvm(error)
            }
        }
        do {
            try vm.registerIRQFD(irq, gsi: placement.gsi, resample: nil)
        } catch {
            if service == .eventLoop {
                try? vm.unregisterIoEventFD(queueNotify, address: notifyAddress, length: 4, dataMatch: nil)
            }
            _ = try? bus.remove(base: placement.mmioBase)
            throw .kvm(error)
        }
        self.service = service
    }
}
