import BlockStorage
import Foundation
import HostPlacement
import LinuxLoader
import Synchronization
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
public final class VMManager: Sendable {
    struct State {
        var host: HostResources
        var machines: [Int: ManagedVM] = [:]
        var nextID = 1
    }

    private let state: Mutex<State>

    /// A manager for a host described by `host`.
    public init(host: HostResources) {
        state = Mutex(State(host: host))
    }

    /// A manager for this machine: its online CPUs, its physical memory and the free space of
    /// the file system holding `storageDirectory`, with overcommit ratios for vCPUs and memory
    /// and a reservation held back for the host itself.
    public static func thisHost(
        storageDirectory: String = ".", vcpuOvercommit: Double = 1, memoryOvercommit: Double = 1,
        reserved: ResourceVector = [:]
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
        do {
            return VMManager(
                host: try HostResources(
                    capacity: capacity, overcommit: [.vcpus: vcpuOvercommit, .memory: memoryOvercommit],
                    reserved: reserved))
        } catch {
            throw .host("\(error)")
        }
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
    /// (not started). Either the VM is added, or nothing changed.
    ///
    /// - Throws: ``VMManagerError/invalidConfiguration(_:)``; ``VMManagerError/admission(name:_:)``
    ///   naming the first short resource; ``VMManagerError/build(_:)`` (the admission released).
    public func add(_ configuration: VirtualMachineConfiguration) throws(VMManagerError) -> ManagedVM {
        let kernel: KernelImage?
        do {
            kernel = try configuration.validatedKernel()
        } catch {
            throw .invalidConfiguration(error)
        }
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
            vm = try VirtualMachine(validated: configuration, kernel: kernel, devices: [])
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

    /// Per VM and in total: R_i, T_i and H_i (see ``VMReport``).
    public func report() -> VMManagerReport {
        let machines = self.machines
        let host = self.host
        return VMManagerReport(vms: machines.map(VMReport.init), used: host.used, allocatable: host.allocatable)
    }
}
