import Devices
import Foundation
import VCPU
import VCPUScheduler

/// Per-vCPU accounting for the final table.
struct VCPUAccount {
    let index: Int
    let exits: [ExitSummary]
    /// On-CPU time of the vCPU thread (guest and VMM), from `/proc/self/task/<tid>/schedstat`.
    let cpuNanoseconds: UInt64?
    /// Time waiting on a run queue, from the same file.
    let waitNanoseconds: UInt64?

    /// Time the VMM spent handling I/O exits (port I/O and MMIO) on this vCPU's thread.
    var ioNanoseconds: UInt64 {
        exits.filter { [.ioIn, .ioOut, .mmioRead, .mmioWrite].contains($0.kind) }.reduce(0) { $0 + $1.totalNanoseconds }
    }

    /// Reads the scheduler statistics of thread `tid`: (on-CPU ns, run-queue wait ns).
    static func schedstat(tid: Int32?) -> (UInt64, UInt64)? {
        guard let tid, let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/schedstat", encoding: .utf8)
        else {
            return nil
        }
        let fields = text.split(separator: " ").compactMap {
            UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return fields.count >= 2 ? (fields[0], fields[1]) : nil
    }
}

func milliseconds(_ nanoseconds: UInt64?) -> String {
    guard let nanoseconds else { return "n/a" }
    return String(format: "%.2f ms", Double(nanoseconds) / 1e6)
}

/// The final table: per vCPU its exits by reason and the kernel's view of its thread (T_cpu
/// on-CPU, T_wait on a run queue) with the VMM's exit handling time (T_io); with a dispatcher,
/// the dispatcher's view too (T_wait there is runnable without a slot); then the disk requests.
func printSummary(
    accounts: [VCPUAccount], block: VirtioBlockStatistics, chains: UInt64, notifications: UInt64,
    scheduling: SchedulingReport? = nil
) {
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
                + milliseconds(account.cpuNanoseconds).padding(toLength: 12, withPad: " ", startingAt: 0)
                + milliseconds(account.ioNanoseconds).padding(toLength: 12, withPad: " ", startingAt: 0)
                + milliseconds(account.waitNanoseconds))
    }
    if let scheduling {
        print(
            "dispatcher: \(scheduling.policyName) on \(scheduling.cpus) slot(s) for "
                + milliseconds(scheduling.duration))
        print("vCPU  T_cpu       T_io        T_wait      slices  preemptions")
        for (index, row) in scheduling.vcpus.enumerated() {
            let a = row.accounting
            print(
                String(index).padding(toLength: 6, withPad: " ", startingAt: 0)
                    + [a.cpuTime, a.ioTime, a.waitTime].map {
                        milliseconds($0).padding(toLength: 12, withPad: " ", startingAt: 0)
                    }
                    .joined() + String(a.slices).padding(toLength: 8, withPad: " ", startingAt: 0)
                    + String(a.preemptions))
        }
    }
    let types = VirtioBlock.RequestType.allCases.compactMap { type -> String? in
        guard let count = block.byType[type], count > 0 else { return nil }
        return "\(type) \(count)"
    }
    print(
        "disk requests served: \(block.total) (\(types.joined(separator: ", "))), failed \(block.failed); "
            + "\(chains) chains, \(notifications) queue notifications (ioeventfd)")
}
