import Foundation
import HostPlacement
import Scheduling

/// One VM's figures: what it was given (R_i), where its time went (T_i) and the hardware mapped
/// to it (H_i).
public struct VMReport: Sendable, CustomStringConvertible {
    /// The manager's id.
    public var id: Int
    /// The VM's name.
    public var name: String
    /// Its state when the report was made.
    public var state: VirtualMachineState
    /// R_i = R_cpu + R_memory + R_storage: vCPUs, memory bytes, disk bytes admitted.
    public var resources: ResourceVector
    /// T_cpu: time in the guest (ns). Under shared scheduling, the dispatcher's guest time of
    /// its slices; otherwise the host CPU time of its vCPU threads that still run.
    public var cpuNanoseconds: UInt64
    /// T_io: time its vCPUs spent handling port-I/O and MMIO exits (ns).
    public var ioNanoseconds: UInt64
    /// T_wait: time waiting for a CPU (ns). Under shared scheduling, the time its vCPUs were
    /// runnable without a slot; otherwise the time its vCPU threads waited in the host's run
    /// queue.
    public var waitNanoseconds: UInt64
    /// The dispatcher's accounting of its vCPUs added up (slices, preemptions, blocked time…),
    /// under shared scheduling; `nil` otherwise.
    public var scheduling: VCPUAccounting?
    /// The share it runs with under shared scheduling (`nil` otherwise).
    public var share: SchedulingConfiguration?
    /// H_cpu: the host threads its vCPUs run on (kernel thread ids; empty once stopped).
    public var vcpuThreads: [Int32]
    /// H_memory: guest RAM mapped for it (bytes).
    public var guestMemoryBytes: UInt64
    /// H_storage: the disk images and their virtual sizes, and its devices' count.
    public var disks: [String]
    /// Devices attached: the legacy ones and a virtio-blk per disk.
    public var devices: Int

    /// T_i = T_cpu + T_io + T_wait as the seed defines it (T_io is counted apart from T_cpu
    /// here, though the handling runs on the vCPU thread: the sum shows both).
    public var totalNanoseconds: UInt64 { cpuNanoseconds + ioNanoseconds + waitNanoseconds }

    /// The figures of `managed`; its T from `scheduling` (the shared dispatcher's report) when
    /// it runs under one.
    init(_ managed: ManagedVM, scheduling report: SchedulingReport?) {
        id = managed.id
        name = managed.name
        state = managed.vm.state
        resources = managed.resources
        if let membership = managed.vm.membership {
            // While in the dispatcher, its per-VM total there; once out, what it handed back.
            let accounting =
                report?.vms.first { $0.vm == membership.vm }?.accounting
                ?? (membership.final.withLock { $0 } ?? []).reduce(VCPUAccounting(), +)
            scheduling = accounting
            share = membership.share.withLock { $0 }
            cpuNanoseconds = accounting.cpuTime
            ioNanoseconds = accounting.ioTime
            waitNanoseconds = accounting.waitTime
        } else {
            let usage = managed.vm.vcpuUsage
            cpuNanoseconds = usage.reduce(0) { $0 + ($1.cpuNanoseconds ?? 0) }
            ioNanoseconds = usage.reduce(0) { $0 + $1.ioNanoseconds }
            waitNanoseconds = usage.reduce(0) { $0 + ($1.waitNanoseconds ?? 0) }
        }
        vcpuThreads = managed.vm.runners.compactMap(\.threadID)
        guestMemoryBytes = managed.vm.layout.ram.reduce(0) { $0 + $1.range.size }
        disks = managed.vm.configuration.disks.map(\.path)
        // COM1, i8042, CMOS, port 0x80, ACPI power; the disks; the other virtio devices.
        let vm = managed.vm
        devices =
            5 + vm.diskPlacements.count
            + [vm.virtioConsolePlacement, vm.entropyPlacement, vm.vsockPlacement].compactMap { $0 }.count
            + vm.networkPlacements.count
    }

    /// `id name state: R = … T = … H = …` on one line.
    public var description: String {
        "\(id) \(name) \(state): R = \(resources[.vcpus]) vCPU + \(resources[.memory] >> 20) MiB + \(resources[.storage] >> 20) MiB disk; "
            + "T = \(totalNanoseconds / 1_000_000) ms (cpu \(cpuNanoseconds / 1_000_000), io \(ioNanoseconds / 1_000_000), wait \(waitNanoseconds / 1_000_000)); "
            + "H = \(vcpuThreads.count) threads + \(guestMemoryBytes >> 20) MiB RAM + \(disks.count) disk(s), \(devices) devices"
            + (share.map { share in
                "; share: weight \(share.weight), \(scheduling?.slices ?? 0) slices, \(scheduling?.preemptions ?? 0) preempted"
            } ?? "")
    }
}

/// Every managed VM's figures and the host's totals.
public struct VMManagerReport: Sendable, CustomStringConvertible {
    /// One per managed VM, by id.
    public var vms: [VMReport]
    /// What the admitted VMs use of the host in total (Σ R_i).
    public var used: ResourceVector
    /// What admissions may use in total.
    public var allocatable: ResourceVector
    /// The shared dispatcher's report (per-vCPU accounting, entitled and actual shares, Jain's
    /// index, latencies), when the manager schedules.
    public var scheduling: SchedulingReport?

    /// Σ T_i over the VMs (ns).
    public var totalNanoseconds: UInt64 { vms.reduce(0) { $0 + $1.totalNanoseconds } }

    /// One line per VM, then the totals.
    public var description: String {
        (vms.map(\.description) + [
            "total: R = \(used[.vcpus])/\(allocatable[.vcpus]) vCPU, \(used[.memory] >> 20)/\(allocatable[.memory] >> 20) MiB, "
                + "\(used[.storage] >> 20)/\(allocatable[.storage] >> 20) MiB disk; T = \(totalNanoseconds / 1_000_000) ms"
                + (scheduling.map { report in
                    "; \(report.policyName) on \(report.cpus) slot(s)"
                        + (report.jainIndex.map { String(format: ", Jain %.4f", $0) } ?? "")
                } ?? "")
        ]).joined(separator: "\n")
    }
}
