import HostSupport

/// One entry of the GSI routing table (`struct kvm_irq_routing_entry`).
public enum GSIRoute: Hashable, Sendable {
    /// Route a GSI to a pin of an in-kernel interrupt controller (`KVM_IRQ_ROUTING_IRQCHIP`):
    /// chip 0 = master PIC, 1 = slave PIC, 2 = IOAPIC.
    case irqchip(gsi: UInt32, chip: UInt32, pin: UInt32)
    /// Route a GSI to a message-signalled interrupt (`KVM_IRQ_ROUTING_MSI`).
    case msi(gsi: UInt32, address: UInt64, data: UInt32, deviceID: UInt32? = nil)

    /// The GSI this entry routes.
    public var gsi: UInt32 {
        switch self {
        case .irqchip(let gsi, _, _), .msi(let gsi, _, _, _): return gsi
        }
    }

    var raw: kvm_irq_routing_entry {
        var entry = kvm_irq_routing_entry()
        switch self {
        case .irqchip(let gsi, let chip, let pin):
            entry.gsi = gsi
            entry.type = UInt32(KVM_IRQ_ROUTING_IRQCHIP)
            entry.u.irqchip = kvm_irq_routing_irqchip(irqchip: chip, pin: pin)
        case .msi(let gsi, let address, let data, let deviceID):
            entry.gsi = gsi
            entry.type = UInt32(KVM_IRQ_ROUTING_MSI)
            entry.u.msi.address_lo = UInt32(truncatingIfNeeded: address)
            entry.u.msi.address_hi = UInt32(truncatingIfNeeded: address >> 32)
            entry.u.msi.data = data
            if let deviceID {
                entry.flags = UInt32(KVM_MSI_VALID_DEVID)
                entry.u.msi.devid = deviceID
            }
        }
        return entry
    }

    /// The standard x86 routing KVM installs with `KVM_CREATE_IRQCHIP`: GSIs 0–15 to the PICs
    /// (except GSI 2, the cascade) and GSIs 0–23 to the IOAPIC, with GSI 0 on IOAPIC pin 2.
    public static var defaultX86: [GSIRoute] {
        var routes: [GSIRoute] = []
        for gsi in UInt32(0)..<24 {
            if gsi < 16 && gsi != 2 {
                routes.append(.irqchip(gsi: gsi, chip: gsi < 8 ? 0 : 1, pin: gsi % 8))
            }
            routes.append(.irqchip(gsi: gsi, chip: 2, pin: gsi == 0 ? 2 : gsi))
        }
        return routes
    }
}

/// Where an ioeventfd listens.
public enum IoEventAddress: Hashable, Sendable {
    /// A port in the I/O space.
    case pio(UInt16)
    /// A guest physical MMIO address.
    case mmio(UInt64)
}

extension KVMVirtualMachine {
    /// Creates the in-kernel PIC pair, IOAPIC and per-vCPU local APICs (`KVM_CREATE_IRQCHIP`).
    /// Call before creating vCPUs.
    public func createIRQChip() throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_CREATE_IRQCHIP, value: 0, "KVM_CREATE_IRQCHIP")
    }

    /// Creates only the local APICs in the kernel and leaves the PIC and IOAPIC to user space
    /// (`KVM_CAP_SPLIT_IRQCHIP`); `ioapicPins` GSIs are reserved for user-space routes.
    public func createSplitIRQChip(ioapicPins: UInt64 = 24) throws(KVMError) {
        try enable(.splitIrqchip, arguments: [ioapicPins])
    }

    /// Creates the in-kernel i8254 timer (`KVM_CREATE_PIT2`); needs the IRQ chip first.
    public func createPIT2(flags: UInt32 = 0) throws(KVMError) {
        var config = kvm_pit_config()
        config.flags = flags
        try kvmIoctl(fileDescriptor, CKVM_CREATE_PIT2, input: config, "KVM_CREATE_PIT2")
    }

    /// Reads the i8254 state (`KVM_GET_PIT2`).
    public func pitState() throws(KVMError) -> kvm_pit_state2 {
        try kvmIoctl(
            fileDescriptor, CKVM_GET_PIT2, output: kvm_pit_state2.self, initial: kvm_pit_state2(), "KVM_GET_PIT2")
    }

    /// Restores the i8254 state (`KVM_SET_PIT2`).
    public func setPITState(_ state: kvm_pit_state2) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_PIT2, input: state, "KVM_SET_PIT2")
    }

    /// Reads an in-kernel interrupt controller's state (`KVM_GET_IRQCHIP`): chip 0 = master PIC,
    /// 1 = slave PIC, 2 = IOAPIC.
    public func irqChipState(chip: UInt32) throws(KVMError) -> kvm_irqchip {
        var state = kvm_irqchip()
        state.chip_id = chip
        try kvmIoctl(fileDescriptor, CKVM_GET_IRQCHIP, inOut: &state, "KVM_GET_IRQCHIP")
        return state
    }

    /// Restores an in-kernel interrupt controller's state (`KVM_SET_IRQCHIP`).
    public func setIRQChipState(_ state: kvm_irqchip) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_IRQCHIP, input: state, "KVM_SET_IRQCHIP")
    }

    /// Sets the level of an interrupt line of the in-kernel controllers (`KVM_IRQ_LINE`).
    /// An edge-triggered interrupt is a raise followed by a lower.
    public func setIRQLine(_ gsi: UInt32, active: Bool) throws(KVMError) {
        var level = kvm_irq_level()
        level.irq = gsi
        level.level = active ? 1 : 0
        try kvmIoctl(fileDescriptor, CKVM_IRQ_LINE, input: level, "KVM_IRQ_LINE")
    }

    /// Replaces the whole GSI routing table (`KVM_SET_GSI_ROUTING`; the kernel takes at most
    /// `KVM_MAX_IRQ_ROUTES`, 4096, entries). Several entries may route the same GSI.
    public func setGSIRouting(_ routes: [GSIRoute]) throws(KVMError) {
        try withFlexibleArray(header: kvm_irq_routing.self, entry: kvm_irq_routing_entry.self, count: routes.count) {
            (header, entries) throws(KVMError) in
            header.pointee.nr = UInt32(routes.count)
            for (i, route) in routes.enumerated() { entries[i] = route.raw }
            try kvmIoctl(fileDescriptor, CKVM_SET_GSI_ROUTING, UnsafeMutableRawPointer(header), "KVM_SET_GSI_ROUTING")
        }
    }

    /// Injects a message-signalled interrupt directly (`KVM_SIGNAL_MSI`).
    /// Returns `true` when delivered, `false` when the guest blocked it.
    @discardableResult
    public func signalMSI(address: UInt64, data: UInt32, deviceID: UInt32? = nil) throws(KVMError) -> Bool {
        var msi = kvm_msi()
        msi.address_lo = UInt32(truncatingIfNeeded: address)
        msi.address_hi = UInt32(truncatingIfNeeded: address >> 32)
        msi.data = data
        if let deviceID {
            msi.flags = UInt32(KVM_MSI_VALID_DEVID)
            msi.devid = deviceID
        }
        return try kvmIoctl(fileDescriptor, CKVM_SIGNAL_MSI, input: msi, "KVM_SIGNAL_MSI") > 0
    }

    /// Makes every signal of `eventFD` inject GSI `gsi` (`KVM_IRQFD`). With `resample`, the GSI
    /// is level-triggered: it stays raised until the guest acknowledges it, and then KVM signals
    /// `resample` so the device can re-raise it if still pending.
    public func registerIRQFD(_ eventFD: EventFD, gsi: UInt32, resample: EventFD? = nil) throws(KVMError) {
        var irqfd = kvm_irqfd()
        irqfd.fd = UInt32(bitPattern: eventFD.fileDescriptor.rawValue)
        irqfd.gsi = gsi
        if let resample {
            irqfd.flags = UInt32(KVM_IRQFD_FLAG_RESAMPLE)
            irqfd.resamplefd = UInt32(bitPattern: resample.fileDescriptor.rawValue)
        }
        try kvmIoctl(fileDescriptor, CKVM_IRQFD, input: irqfd, "KVM_IRQFD")
    }

    /// Detaches `eventFD` from `gsi` (`KVM_IRQFD` with `KVM_IRQFD_FLAG_DEASSIGN`).
    public func unregisterIRQFD(_ eventFD: EventFD, gsi: UInt32) throws(KVMError) {
        var irqfd = kvm_irqfd()
        irqfd.fd = UInt32(bitPattern: eventFD.fileDescriptor.rawValue)
        irqfd.gsi = gsi
        irqfd.flags = UInt32(KVM_IRQFD_FLAG_DEASSIGN)
        try kvmIoctl(fileDescriptor, CKVM_IRQFD, input: irqfd, "KVM_IRQFD(deassign)")
    }

    /// Makes a guest write to `address` signal `eventFD` inside the kernel instead of exiting
    /// to user space (`KVM_IOEVENTFD`).
    ///
    /// - Parameters:
    ///   - eventFD: the eventfd to signal.
    ///   - address: the port or guest physical address to watch.
    ///   - length: the access size that matches: 1, 2, 4 or 8, or 0 for any size (needs
    ///     `KVM_CAP_IOEVENTFD_ANY_LENGTH`; datamatch is then not allowed).
    ///   - dataMatch: when set, only writes of exactly this value match; others exit as usual.
    public func registerIoEventFD(
        _ eventFD: EventFD, address: IoEventAddress, length: UInt32 = 0, dataMatch: UInt64? = nil
    ) throws(KVMError) {
        try ioEventFD(eventFD, address: address, length: length, dataMatch: dataMatch, deassign: false)
    }

    /// Removes an ioeventfd registered with the same arguments.
    public func unregisterIoEventFD(
        _ eventFD: EventFD, address: IoEventAddress, length: UInt32 = 0, dataMatch: UInt64? = nil
    ) throws(KVMError) {
        try ioEventFD(eventFD, address: address, length: length, dataMatch: dataMatch, deassign: true)
    }

    private func ioEventFD(
        _ eventFD: EventFD, address: IoEventAddress, length: UInt32, dataMatch: UInt64?, deassign: Bool
    ) throws(KVMError) {
        guard [0, 1, 2, 4, 8].contains(length) else {
            throw .invalidArgument("ioeventfd length must be 0, 1, 2, 4 or 8, not \(length)")
        }
        if dataMatch != nil && length == 0 {
            throw .invalidArgument("an ioeventfd with datamatch needs a length of 1, 2, 4 or 8")
        }
        var request = kvm_ioeventfd()
        request.fd = eventFD.fileDescriptor.rawValue
        request.len = length
        var flags: UInt32 = 0
        switch address {
        case .pio(let port):
            request.addr = UInt64(port)
            flags |= CKVM_IOEVENTFD_FLAG_PIO
        case .mmio(let address):
            request.addr = address
        }
        if let dataMatch {
            request.datamatch = dataMatch
            flags |= CKVM_IOEVENTFD_FLAG_DATAMATCH
        }
        if deassign { flags |= CKVM_IOEVENTFD_FLAG_DEASSIGN }
        request.flags = flags
        try kvmIoctl(
            fileDescriptor, CKVM_IOEVENTFD, input: request, deassign ? "KVM_IOEVENTFD(deassign)" : "KVM_IOEVENTFD")
    }
}
