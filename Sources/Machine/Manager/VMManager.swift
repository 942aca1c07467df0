import BlockStorage
import Foundation
import HostPlacement
import HostSupport
import LinuxLoader
import Synchronization
import VCPUScheduler
import VHD

#if canImport(Glibc)
    import Glibc
#endif

/// Why the manager refused or failed an operation.
public enum VMManagerError: Error, Sendable, CustomStringConvertible {
    /// The configuration did not validate (nothing was admitted or created).
    case invalidConfiguration(ConfigurationError)
    /// The VM does not fit on the host: the first short resource, what it asked and what is left.
    case admission(name: String, AdmissionError)
    /// A disk's size could not be read to admit it.
    case disk(path: String, String)
    /// Building the VM failed (its admission was released).
    case build(VirtualMachineError)
    /// No VM with this id is managed.
    case unknownVM(Int)
    /// The host's capacity could not be described.
    case host(String)
    /// The shared dispatcher could not be set up, or refused a VM's share.
    case scheduling(String)

    /// One line naming the VM, file or resource at fault.
    public var description: String {
        switch self {
        case .invalidConfiguration(let error): "\(error)"
        case .admission(let name, .insufficient(let resource, let requested, let available)):
            "\(name) does not fit: it needs \(requested) \(resource), the host has \(available) left"
        case .admission(let name, let error): "\(name): \(error)"
        case .disk(let path, let why): "disk \(path): \(why)"
        case .build(let error): "\(error)"
        case .unknownVM(let id): "no VM \(id) on this manager"
        case .host(let why): "host: \(why)"
        case .scheduling(let why): "scheduling: \(why)"
        }
    }
}

/// One VM under a ``VMManager``: its id, the machine and what it was given (R_i).
public struct ManagedVM: Sendable {
    /// The manager's id for it (never reused).
    public let id: Int
    /// The machine.
    public let vm: VirtualMachine
    /// R_i = R_cpu + R_memory + R_storage: vCPUs, guest memory bytes and disk bytes (each
    /// disk's virtual capacity) admitted for it.
    public let resources: ResourceVector
    let admission: Admission

    /// The VM's name (from its configuration).
    public var name: String { vm.configuration.name }

    /// Its VM id in the shared dispatcher's report (`SchedulingReport` rows and `vms`), under
    /// a manager that schedules; `nil` otherwise.
    public var schedulingVM: VMID? { vm.membership?.vm }
}

/// The VMs of one host: each admitted against the host's CPU, memory and storage (with
/// overcommit and reservations, HostPlacement's `HostResources`) before anything is built,
/// refused with the first short resource when it does not fit, and released exactly when
/// removed. ``report()`` gives, per VM and in total, what it was given (R_i), where its time went
/// (T_i = T_cpu + T_io + T_wait) and the hardware mapped to it (H_i).
///
/// ```swift
/// let manager = try VMManager.thisHost(storageDirectory: "/var/lib/vms", vcpuOvercommit: 4)
/// let web = try manager.add(configuration)      // admitted and built, not started
/// try web.vm.start()
/// print(manager.report())
/// try manager.remove(web.id)                    // stopped; its resources returned
/// ```
///
/// With ``VMManagerScheduling`` one dispatcher runs the vCPUs of every VM on a fixed number of
/// worker slots under one policy, each VM with its own share (``setScheduling(_:for:)`` resizes
/// it); without, each vCPU is a host thread the kernel schedules. A manager that goes away
/// stops the VMs it still has.
public final class VMManager: Sendable {
    struct State {
        var host: HostResources
        var machines: [Int: ManagedVM] = [:]
        var nextID = 1
    }

    private let state: Mutex<State>
    /// The shared dispatcher (started), when the manager schedules.
    private let dispatcher: (any VCPUDispatching)?

    /// A manager for a host described by `host`; each vCPU is a host thread of its own.
    public init(host: HostResources) {
        state = Mutex(State(host: host))
        dispatcher = nil
    }

    /// A manager for `host` whose VMs' vCPUs share one dispatcher (started here: its worker
    /// threads wait for vCPUs).
    ///
    /// - Throws: ``VMManagerError/scheduling(_:)`` for a slot count or affinity list the
    ///   dispatcher refuses, or a worker thread that cannot start.
    public init(host: HostResources, scheduling: VMManagerScheduling) throws(VMManagerError) {
        state = Mutex(State(host: host))
        do throws(DispatcherError) {
            let dispatcher = try makeVCPUDispatcher(
                policy: scheduling.policy, workers: scheduling.slots, workerAffinity: scheduling.workerAffinity,
                workerPriority: scheduling.workerPriority)
            try dispatcher.start()
            self.dispatcher = dispatcher
        } catch {
            throw .scheduling("\(error)")
        }
    }

    deinit {
        for managed in state.withLock({ Array($0.machines.values) }) { _ = managed.vm.stop() }
        dispatcher?.stop()
    }

    /// A manager for this machine: its online CPUs, its physical memory and the free space of
    /// the file system holding `storageDirectory`, with overcommit ratios for vCPUs, memory and
    /// storage (thin disks: a dynamic VHD's capacity may exceed the space it takes) and a
    /// reservation held back for the host itself.
    ///
    /// With `scheduling`, the VMs' vCPUs share one dispatcher (see ``init(host:scheduling:)``).
    public static func thisHost(
        storageDirectory: String = ".", vcpuOvercommit: Double = 1, memoryOvercommit: Double = 1,
        storageOvercommit: Double = 1, reserved: ResourceVector = [:], scheduling: VMManagerScheduling? = nil
    ) throws(VMManagerError) -> VMManager {
        var fs = statvfs()
        guard statvfs(storageDirectory, &fs) == 0 else {
            throw .host("\(storageDirectory): \(String(cString: strerror(errno)))")
        }
        let capacity: ResourceVector = [
            .vcpus: UInt64(ProcessInfo.processInfo.activeProcessorCount),
            .memory: ProcessInfo.processInfo.physicalMemory,
            .storage: UInt64(fs.f_bavail) * UInt64(fs.f_frsize),
        ]
        let host: HostResources
        do {
            host = try HostResources(
                capacity: capacity,
                overcommit: [.vcpus: vcpuOvercommit, .memory: memoryOvercommit, .storage: storageOvercommit],
                reserved: reserved)
        } catch {
            throw .host("\(error)")
        }
        guard let scheduling else { return VMManager(host: host) }
        return try VMManager(host: host, scheduling: scheduling)
    }

    /// The host's resources: capacity, what admissions may use, what they use.
    public var host: HostResources { state.withLock { $0.host } }

    /// The managed VMs, by id.
    public var machines: [ManagedVM] { state.withLock { $0.machines.values.sorted { $0.id < $1.id } } }

    /// What `configuration` asks of a host: its vCPUs, its memory, its disks' virtual capacity.
    public static func resources(of configuration: VirtualMachineConfiguration) throws(VMManagerError)
        -> ResourceVector
    {
        var storage: UInt64 = 0
        for disk in configuration.disks {
            do {
                // Shared with any writer: only the size is read.
                let image = try openDiskImage(
                    path: disk.path, readOnly: true, format: disk.format, among: VHDDiskImageFormat.standardFormats,
                    locking: .forceShare)
                storage += image.capacity
            } catch {
                throw .disk(path: disk.path, "\(error)")
            }
        }
        return [.vcpus: UInt64(configuration.vcpuCount), .memory: configuration.memorySize, .storage: storage]
    }

    /// Validates `configuration`, admits what it asks (``resources(of:)``) and builds the VM
    /// (not started), with the embedder's `devices` on its buses. Either the VM is added, or
    /// nothing changed.
    ///
    /// - Throws: ``VMManagerError/invalidConfiguration(_:)``; ``VMManagerError/admission(name:_:)``
    ///   naming the first short resource; ``VMManagerError/build(_:)`` (the admission released).
    ///
    /// With an `eventLoop`, the VM's devices are served on it (a loop shared by several VMs, which
    /// the embedder starts and stops) instead of as its configuration says.
    public func add(
        _ configuration: VirtualMachineConfiguration, devices: [DeviceAttachment] = [], eventLoop: EventLoop? = nil
    ) throws(VMManagerError) -> ManagedVM {
        let kernel = try configuration.validatedKernel(or: VMManagerError.invalidConfiguration)
        return try admitAndBuild(configuration) { (membership) throws(VirtualMachineError) in
            try VirtualMachine(
                validated: configuration, kernel: kernel, devices: devices, membership: membership,
                eventLoop: eventLoop)
        }
    }

    /// Admits the VM a snapshot directory holds (its configuration's resources) and rebuilds it
    /// with its state (``VirtualMachine/init(restoring:devices:eventLoop:)``), not started; under shared
    /// scheduling it joins the dispatcher on ``VirtualMachine/start()`` like any other VM.
    ///
    /// - Throws: ``VMManagerError/build(_:)`` with ``VirtualMachineError/snapshot(_:)`` for an
    ///   unreadable or inconsistent snapshot or a changed disk; the errors of ``add(_:devices:eventLoop:)``.
    public func add(restoring directory: String, devices: [DeviceAttachment] = [], eventLoop: EventLoop? = nil)
        throws(VMManagerError) -> ManagedVM
    {
        let saved: VirtualMachineSnapshot
        do {
            saved = try VirtualMachineSnapshot.load(from: directory)
        } catch {
            throw .build(error)
        }
        let kernel = try saved.configuration.validatedKernel(or: VMManagerError.invalidConfiguration)
        return try admitAndBuild(saved.configuration) { (membership) throws(VirtualMachineError) in
            try VirtualMachine(
                restoring: saved, from: directory, kernel: kernel, devices: devices, membership: membership,
                eventLoop: eventLoop)
        }
    }

    /// Admits `configuration`'s resources, builds the VM with `build` (given its membership of
    /// the shared dispatcher, if any) and records it; the admission is released if the build fails.
    private func admitAndBuild(
        _ configuration: VirtualMachineConfiguration,
        _ build: (SchedulerMembership?) throws(VirtualMachineError) -> VirtualMachine
    ) throws(VMManagerError) -> ManagedVM {
        let request = try Self.resources(of: configuration)
        let (admission, id) = try state.withLock { (s) throws(VMManagerError) -> (Admission, Int) in
            do throws(AdmissionError) {
                let admission = try s.host.admit(request)
                defer { s.nextID += 1 }
                return (admission, s.nextID)
            } catch {
                throw .admission(name: configuration.name, error)
            }
        }
        let vm: VirtualMachine
        do {
            let membership = dispatcher.map {
                SchedulerMembership(
                    dispatcher: $0, vm: VMID(UInt32(truncatingIfNeeded: id)), share: configuration.scheduling)
            }
            vm = try build(membership)
        } catch {
            state.withLock { s in _ = try? s.host.release(admission) }
            throw .build(error)
        }
        let managed = ManagedVM(id: id, vm: vm, resources: request, admission: admission)
        state.withLock { $0.machines[id] = managed }
        return managed
    }

    /// Stops VM `id` (if it still runs), returns its resources to the host exactly and forgets
    /// it; returns its outcome.
    @discardableResult
    public func remove(_ id: Int) throws(VMManagerError) -> VirtualMachineOutcome {
        guard let managed = state.withLock({ $0.machines.removeValue(forKey: id) }) else { throw .unknownVM(id) }
        let outcome = managed.vm.stop()
        state.withLock { s in _ = try? s.host.release(managed.admission) }
        return outcome
    }

    /// Resizes VM `id`'s CPU share under the shared dispatcher: new weight, priority, cap or
    /// real-time budget, in force for its next slices (a running slice is cut short first). For a
    /// VM not started yet, the share it starts with.
    ///
    /// - Throws: ``VMManagerError/unknownVM(_:)``; ``VMManagerError/invalidConfiguration(_:)``
    ///   for out-of-range values; ``VMManagerError/scheduling(_:)`` when the manager does not
    ///   schedule, or the policy refuses the share (for example no real-time budget under a
    ///   real-time policy: the old share stays).
    public func setScheduling(_ share: SchedulingConfiguration, for id: Int) throws(VMManagerError) {
        guard let managed = state.withLock({ $0.machines[id] }) else { throw .unknownVM(id) }
        guard let membership = managed.vm.membership else {
            throw .scheduling("this manager does not schedule its VMs (no VMManagerScheduling)")
        }
        let parameters: SchedulingParameters
        do {
            parameters = try share.parameters()
        } catch {
            throw .invalidConfiguration(error)
        }
        // Under the share's lock, which a start holds while it hands the vCPUs to the
        // dispatcher: they go in with the old share and are updated, or with the new one.
        try membership.share.withLock { (current) throws(VMManagerError) in
            // The vCPUs the dispatcher has (none before the start or after the stop).
            for gated in managed.vm.gated where membership.dispatcher.runState(of: gated.schedulingID) != nil {
                do throws(DispatcherError) {
                    try membership.dispatcher.setParameters(parameters, for: gated.schedulingID)
                } catch {
                    throw .scheduling("\(managed.name) vCPU \(gated.schedulingID.index): \(error)")
                }
            }
            current = share
        }
    }

    /// Shared-dispatcher workers whose requested ``VMManagerScheduling/workerPriority`` the kernel
    /// refused (no `CAP_SYS_NICE`): they run with the inherited class. 0 without shared scheduling.
    public var workersWithoutPriority: Int { dispatcher?.workersWithoutPriority ?? 0 }

    /// The first error the shared dispatcher's policy reported (it stops dispatching after
    /// one), if any.
    public var schedulingFailure: SchedulerError? { dispatcher?.failure }

    /// Per VM and in total: R_i, T_i and H_i (see ``VMReport``); with shared scheduling, the
    /// dispatcher's report too (shares, fairness, latencies).
    public func report() -> VMManagerReport {
        let machines = self.machines
        let host = self.host
        let scheduling = dispatcher?.report()
        return VMManagerReport(
            vms: machines.map { VMReport($0, scheduling: scheduling) }, used: host.used,
            allocatable: host.allocatable, scheduling: scheduling)
    }
}
