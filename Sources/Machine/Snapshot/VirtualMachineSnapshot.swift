import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import LinuxLoader
import SystemPackage
import VCPU

#if canImport(Glibc)
    import Glibc
#endif

/// A disk as a snapshot remembers it: a restore refuses a disk that changed since.
public struct DiskIdentity: Codable, Sendable, Hashable {
    /// The image file.
    public var path: String
    /// Its size in bytes when the snapshot was taken.
    public var size: UInt64
    /// Its modification time (ns since the epoch) when the snapshot was taken.
    public var modified: Int64

    /// The identity of the file at `path` now, or `nil` when it cannot be read.
    static func of(_ path: String) -> DiskIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return DiskIdentity(
            path: path, size: UInt64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }
}

/// The virtio console of a paused VM: its transport and the device's own state.
public struct VirtioConsoleSnapshot: Codable, Sendable, Hashable {
    /// The transport's registers and queue positions.
    public var transport: VirtioMMIOTransportState
    /// The device's size and the bytes in flight.
    public var device: VirtioConsoleState
}

/// A vsock device in a snapshot: its transport and its state (the guest's context id).
public struct VirtioVsockSnapshot: Codable, Sendable, Hashable {
    /// The transport's registers and queue positions.
    public var transport: VirtioMMIOTransportState
    /// The device's state.
    public var device: VirtioVsockState
}

/// Everything of a paused ``VirtualMachine`` but its guest memory (which goes to a file of its
/// own): what it was built from, every vCPU, the interrupt controllers, the PIT, the clock, each
/// disk's virtio transport and the disks' identities, the virtio console (with the bytes in
/// flight), the entropy device and the vsock device. `Codable`; a snapshot from before the virtio
/// console or the vsock device existed reads as one without it.
public struct VirtualMachineSnapshot: Codable, Sendable {
    /// The format's version (1).
    public var version: Int
    /// The configuration the VM was built from (and is rebuilt from on restore).
    public var configuration: VirtualMachineConfiguration
    /// Each vCPU's complete state, in vCPU order.
    public var vcpus: [VCPUStateSnapshot]
    /// The in-kernel PIC master, PIC slave and IOAPIC.
    public var irqChips: [RawState<kvm_irqchip>]
    /// The in-kernel PIT.
    public var pit: RawState<kvm_pit_state2>
    /// The KVM clock.
    public var clock: RawState<kvm_clock_data>
    /// Each disk's virtio-mmio transport and queues, in disk order.
    public var transports: [VirtioMMIOTransportState]
    /// Each disk's identity, in disk order.
    public var disks: [DiskIdentity]
    /// The virtio console's transport and device state (with the bytes it held), if the VM has one.
    public var virtioConsole: VirtioConsoleSnapshot?
    /// The entropy device's transport, if the VM has one.
    public var entropyTransport: VirtioMMIOTransportState?
    /// The vsock device's transport and state, if the VM has one. Its connections are not
    /// saved (their host sockets belong to the process that saved it): the restored device
    /// tells the guest its transport was reset.
    public var vsock: VirtioVsockSnapshot?
    /// Each network card's transport, in order (`nil` in snapshots from before network cards).
    /// A card's frames in flight are not saved: a frame the device held is dropped, as a
    /// network may drop any frame.
    public var networkTransports: [VirtioMMIOTransportState]?

    /// The file in a snapshot directory that holds this value (JSON).
    public static let stateFile = "machine.json"
    /// The file in a snapshot directory that holds guest memory (GuestMemory's snapshot format).
    public static let memoryFile = "memory.bin"
}

extension VirtualMachineSnapshot {
    /// Reads the state file of the snapshot in `directory` and checks it against its own
    /// configuration and the disks it names (guest memory is read when the VM is rebuilt).
    ///
    /// - Throws: ``VirtualMachineError/snapshot(_:)`` for an unreadable or inconsistent state, or a
    ///   disk that changed since the snapshot.
    public static func load(from directory: String) throws(VirtualMachineError) -> VirtualMachineSnapshot {
        let url = URL(fileURLWithPath: directory)
        let saved: VirtualMachineSnapshot
        do {
            saved = try JSONDecoder().decode(
                VirtualMachineSnapshot.self, from: Data(contentsOf: url.appendingPathComponent(stateFile)))
        } catch {
            throw .snapshot("\(directory): \(error)")
        }
        guard saved.version == 1 else { throw .snapshot("\(directory): format version \(saved.version), not 1") }
        let configuration = saved.configuration
        guard saved.vcpus.count == configuration.vcpuCount, saved.transports.count == configuration.disks.count,
            saved.disks.count == configuration.disks.count, saved.irqChips.count == 3,
            (saved.virtioConsole != nil) == (configuration.virtioConsole != nil),
            (saved.entropyTransport != nil) == (configuration.entropy != nil),
            (saved.vsock != nil) == (configuration.vsock != nil),
            (saved.networkTransports ?? []).count == configuration.networks.count
        else {
            throw .snapshot("\(directory): the state does not match its configuration")
        }
        for (disk, identity) in zip(configuration.disks, saved.disks) where DiskIdentity.of(disk.path) != identity {
            throw .snapshot("disk \(disk.path) changed since the snapshot (size or modification time)")
        }
        return saved
    }
}

extension VirtualMachine {
    /// Saves the paused VM to a new directory `directory`: ``VirtualMachineSnapshot/stateFile``
    /// and ``VirtualMachineSnapshot/memoryFile``. The disks' queue workers finish what they
    /// serve first (and are started again after), so no request is half done. The directory
    /// appears only complete (written under a temporary name, then renamed); an existing one is
    /// never replaced. The VM stays paused: resume it or stop it.
    ///
    /// - Throws: ``VirtualMachineError/invalidTransition(from:action:)`` unless paused;
    ///   ``VirtualMachineError/snapshot(_:)`` naming what failed (nothing is left behind).
    public func snapshot(to directory: String) throws(VirtualMachineError) {
        guard state == .paused else { throw .invalidTransition(from: state, action: "snapshot") }
        guard !FileManager.default.fileExists(atPath: directory) else {
            throw .snapshot("\(directory) exists: a snapshot never replaces anything")
        }
        deviceService.suspend()
        for disk in disks { disk.transport.processQueues() }
        defer { try? deviceService.resume() }
        let value: VirtualMachineSnapshot
        do {
            let msrIndices = try kvm.msrIndexList()
            var clock = try vm.clock()
            clock.flags = 0
            value = VirtualMachineSnapshot(
                version: 1, configuration: configuration,
                vcpus: try runners.map {
                    try VCPUStateSnapshot.capture(from: $0.vcpu, msrIndices: msrIndices, hasLAPIC: true)
                },
                irqChips: try (0..<3).map { RawState(try vm.irqChipState(chip: $0)) },
                pit: RawState(try vm.pitState()), clock: RawState(clock),
                transports: disks.map { $0.transport.saveState() },
                disks: configuration.disks.map {
                    DiskIdentity.of($0.path) ?? DiskIdentity(path: $0.path, size: 0, modified: 0)
                },
                virtioConsole: consoleTransport.flatMap { transport in
                    virtioConsole.map {
                        VirtioConsoleSnapshot(transport: transport.saveState(), device: $0.saveState())
                    }
                },
                entropyTransport: entropyTransport?.saveState(),
                vsock: vsockTransport.flatMap { transport in
                    vsockDevice.map { VirtioVsockSnapshot(transport: transport.saveState(), device: $0.saveState()) }
                },
                networkTransports: networkTransports.map { $0.saveState() })
        } catch {
            throw .snapshot("capturing the state: \(error)")
        }
        let parent = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        let temporary = URL(fileURLWithPath: parent).appendingPathComponent(
            ".\(URL(fileURLWithPath: directory).lastPathComponent).partial-\(getpid())"
        ).path
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(value).write(
                to: URL(fileURLWithPath: temporary).appendingPathComponent(VirtualMachineSnapshot.stateFile))
            let fd = try FileDescriptor.open(
                URL(fileURLWithPath: temporary).appendingPathComponent(VirtualMachineSnapshot.memoryFile).path,
                .writeOnly, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite])
            defer { try? fd.close() }
            try GuestMemorySnapshot.write(memory, to: fd)
            guard fsync(fd.rawValue) == 0 else { throw Errno(rawValue: errno) }
            guard rename(temporary, directory) == 0 else { throw Errno(rawValue: errno) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .snapshot("writing \(directory): \(error)")
        }
    }

    /// Rebuilds the VM a snapshot directory describes and puts its state back: guest memory,
    /// interrupt controllers, PIT, clock, every vCPU and each disk's transport. The VM is
    /// `created`; ``start()`` continues the guest where it was paused. The embedder's `devices`
    /// join its buses as in ``init(configuration:devices:eventLoop:)`` (their own state is theirs to
    /// restore).
    ///
    /// - Throws: ``VirtualMachineError/snapshot(_:)`` for an unreadable or inconsistent snapshot
    ///   or a disk that changed since it was taken; the errors of ``init(configuration:devices:eventLoop:)``.
    public convenience init(
        restoring directory: String, devices: [DeviceAttachment] = [], eventLoop: EventLoop? = nil
    ) throws(VirtualMachineError) {
        let saved = try VirtualMachineSnapshot.load(from: directory)
        let kernel = try saved.configuration.validatedKernel(or: VirtualMachineError.invalidConfiguration)
        try self.init(
            restoring: saved, from: directory, kernel: kernel, devices: devices, membership: nil, eventLoop: eventLoop)
    }

    /// Builds the VM of `saved` (loaded from `directory`, its configuration validated with
    /// `kernel` parsed) — under a shared dispatcher with a `membership` — and puts its state back.
    convenience init(
        restoring saved: VirtualMachineSnapshot, from directory: String, kernel: KernelImage?,
        devices: [DeviceAttachment], membership: SchedulerMembership?, eventLoop: EventLoop?
    ) throws(VirtualMachineError) {
        let url = URL(fileURLWithPath: directory)
        try self.init(
            validated: saved.configuration, kernel: kernel, devices: devices, membership: membership,
            eventLoop: eventLoop)
        do {
            let fd = try FileDescriptor.open(
                url.appendingPathComponent(VirtualMachineSnapshot.memoryFile).path, .readOnly)
            defer { try? fd.close() }
            try GuestMemorySnapshot.restore(from: fd, into: memory)
            for chip in saved.irqChips { try vm.setIRQChipState(chip.value) }
            try vm.setPITState(saved.pit.value)
            try vm.setClock(saved.clock.value)
            for (runner, state) in zip(runners, saved.vcpus) { try state.restore(into: runner.vcpu) }
            for (disk, state) in zip(disks, saved.transports) { try disk.transport.restoreState(state) }
            if let state = saved.entropyTransport { try entropyTransport?.restoreState(state) }
            if let state = saved.vsock {
                try vsockTransport?.restoreState(state.transport)
                try vsockDevice?.restoreState(state.device)
            }
            for (transport, state) in zip(networkTransports, saved.networkTransports ?? []) {
                try transport.restoreState(state)
            }
            if let state = saved.virtioConsole {
                try consoleTransport?.restoreState(state.transport)
                try virtioConsole?.restoreState(state.device)
            }
        } catch {
            _ = stop()
            throw .snapshot("restoring \(directory): \(error)")
        }
    }
}
