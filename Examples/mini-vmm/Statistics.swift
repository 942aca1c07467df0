import Devices
import Foundation
import Machine
import Scheduling
import VCPU

/// Per-vCPU accounting for the final table.
struct VCPUAccount {
    let index: Int
    let exits: [ExitSummary]
    /// T_cpu, T_io and T_wait of the vCPU's thread, from the Machine target (`VCPUUsage`).
    let usage: VCPUUsage

    /// Every vCPU of `vm`, read while its threads still run (a thread's schedstat goes with it).
    static func of(_ vm: VirtualMachine) -> [VCPUAccount] {
        zip(vm.runners, vm.vcpuUsage).map { runner, usage in
            VCPUAccount(index: usage.index, exits: runner.statistics.summaries, usage: usage)
        }
    }
}

func milliseconds(_ nanoseconds: UInt64?) -> String {
    guard let nanoseconds else { return "n/a" }
    return String(format: "%.2f ms", Double(nanoseconds) / 1e6)
}

/// The disk's request counts: served by type, failed, descriptor chains, queue notifications.
struct DiskCounts {
    var statistics: VirtioBlockStatistics
    var chains: UInt64
    var notifications: UInt64

    init?(_ vm: VirtualMachine) {
        guard let usage = vm.diskUsage.first else { return nil }
        statistics = usage.requests
        chains = usage.chainsServed
        notifications = usage.notifications
    }

    /// `disk requests served: N (read r, write w, flush f), failed 0; C chains`.
    var line: String {
        let types = VirtioBlock.RequestType.allCases.compactMap { type -> String? in
            guard let count = statistics.byType[type], count > 0 else { return nil }
            return "\(type) \(count)"
        }
        return
            "disk requests served: \(statistics.total) (\(types.joined(separator: ", "))), failed \(statistics.failed); "
            + "\(chains) chains, \(notifications) queue notifications"
    }
}

/// The dispatcher's rows of one VM (`vm`), or of all VMs (`nil`: a VM column first).
func printDispatcher(_ scheduling: SchedulingReport, vm: VMID?) {
    print("dispatcher: \(scheduling.policyName) on \(scheduling.cpus) slot(s) for " + milliseconds(scheduling.duration))
    print((vm == nil ? "VM  " : "") + "vCPU  T_cpu       T_io        T_wait      slices  preemptions")
    for row in scheduling.vcpus where vm == nil || row.id.vm == vm {
        let a = row.accounting
        print(
            (vm == nil ? String(row.id.vm.rawValue).padding(toLength: 4, withPad: " ", startingAt: 0) : "")
                + String(row.id.index).padding(toLength: 6, withPad: " ", startingAt: 0)
                + [a.cpuTime, a.ioTime, a.waitTime].map {
                    milliseconds($0).padding(toLength: 12, withPad: " ", startingAt: 0)
                }
                .joined() + String(a.slices).padding(toLength: 8, withPad: " ", startingAt: 0) + String(a.preemptions))
    }
}

/// The final table of one VM: per vCPU its exits by reason and the kernel's view of its thread
/// (T_cpu on-CPU, T_wait on a run queue) with the VMM's exit handling time (T_io); with a
/// dispatcher, the dispatcher's view too (T_wait there is runnable without a slot; its T_cpu is
/// slot time minus exit handling); then the disk requests.
func printSummary(accounts: [VCPUAccount], disk: DiskCounts?, scheduling: SchedulingReport? = nil, vm: VMID? = nil) {
    print("")
    let reasonTexts = accounts.map { account in
        account.exits.map { "\($0.kind) \($0.count)" }.joined(separator: ", ")
    }
    let width = max(50, (reasonTexts.map(\.count).max() ?? 0) + 1)
    print(
        "vCPU  " + "exits by reason".padding(toLength: width, withPad: " ", startingAt: 0)
            + " T_cpu       T_io        T_wait")
    for (account, reasons) in zip(accounts, reasonTexts) {
        let padded = reasons.padding(toLength: width, withPad: " ", startingAt: 0)
        print(
            String(account.index).padding(toLength: 6, withPad: " ", startingAt: 0) + padded + " "
                + milliseconds(account.usage.cpuNanoseconds).padding(toLength: 12, withPad: " ", startingAt: 0)
                + milliseconds(account.usage.ioNanoseconds).padding(toLength: 12, withPad: " ", startingAt: 0)
                + milliseconds(account.usage.waitNanoseconds))
    }
    if let scheduling { printDispatcher(scheduling, vm: vm) }
    print(disk?.line ?? "disk requests served: n/a")
}
