import ArgumentParser
import Devices
import Foundation
import KVM
import VCPU
import VHD

/// `swift run mini-vmm`: composes GuestMemory, KVM, VCPU, VHD, ResourceAllocator and Devices into
/// a working VM whose guest drives a virtio-blk disk like a real driver.
@main
struct MiniVMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mini-vmm",
        abstract: "Run a tiny guest that drives a virtio-blk disk (raw or VHD) on two or more vCPUs.",
        discussion: """
            Without --disk, a small dynamic VHD with known contents is created in a temporary \
            directory. vCPU 0 negotiates features, sets up a virtqueue, reads sectors 0-7, checksums \
            them, writes sector 8, reads it back and flushes, printing on the serial console; the \
            other vCPUs compute and report over port I/O. Exit status 0 only if the guest reported \
            success and its results match the host's.
            """)

    @Option(help: "Disk image to drive (raw, or a fixed, dynamic or differencing VHD).")
    var disk: String?

    @Flag(help: "Open the disk read-only (virtio-blk VIRTIO_BLK_F_RO): the guest's write then fails.")
    var readOnly = false

    @Option(help: "Number of vCPUs (1-\(Machine.maximumVCPUs)); vCPU 0 drives the disk.")
    var vcpus: Int = 2

    @Option(help: "Seconds to wait for the guest before giving up.")
    var timeout: Double = 120

    func validate() throws {
        guard (1...Machine.maximumVCPUs).contains(vcpus) else {
            throw ValidationError("--vcpus must be between 1 and \(Machine.maximumVCPUs)")
        }
    }

    func run() throws {
        var temporaryDirectory: URL?
        defer { if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) } }
        let image: any BlockDevice
        if let disk {
            image = try DemoDisk.open(path: disk, readOnly: readOnly)
            print("disk: \(disk) (\(DemoDisk.describe(image)))")
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mini-vmm-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            temporaryDirectory = directory
            let path = directory.appendingPathComponent("demo.vhd").path
            let demo = try DemoDisk.createDemo(at: path)
            image = readOnly ? try DemoDisk.open(path: path, readOnly: true) : demo
            print("disk: \(path) (new demo disk: \(DemoDisk.describe(image)))")
        }
        guard image.capacity >= 9 * 512 else { throw ValidationError("the disk needs at least 9 sectors") }
        let expectedChecksum = fnv1a(try image.read(at: 0, length: 4096))

        let machine = try Machine(disk: image, vcpuCount: vcpus, console: { byte in
            // Through stdio like print(), so the console and our own lines stay in order.
            putchar(Int32(byte))
            if byte == 10 { fflush(nil) }
        })
        print(
            "VM: \(Machine.memorySize >> 20) MiB, \(vcpus) vCPU(s) in long mode; virtio-blk at 0x"
                + String(machine.placement.mmioBase, radix: 16) + ", GSI \(machine.placement.gsi); serial at 0x3f8")
        print("--- guest serial console ---")
        let (accounts, timedOut) = try machine.run(timeoutSeconds: timeout)
        print("--- end of guest output ---")
        let block = machine.block.statistics
        printSummary(accounts: accounts, block: block, chains: machine.transport.chainsServed, notifications: machine.worker.notificationCount)

        // Judge the run.
        var problems: [String] = []
        let reports = machine.reports.reports
        if timedOut { problems.append("timed out after \(timeout) s") }
        for (index, runner) in machine.runners.enumerated() {
            if case .failed(let error) = runner.outcome { problems.append("vCPU \(index) failed: \(error)") }
            if runner.outcome == .shutdown { problems.append("vCPU \(index) shut down (triple fault)") }
        }
        switch reports.done {
        case 0?: break
        case let step?: problems.append("guest reported failure at step \(step)")
        case nil: problems.append("guest did not report")
        }
        if let checksum = reports.checksum, checksum != expectedChecksum {
            problems.append(
                "guest checksum 0x\(String(checksum, radix: 16)) != host checksum 0x\(String(expectedChecksum, radix: 16))")
        }
        if let capacity = reports.capacity, capacity != UInt32(truncatingIfNeeded: image.capacity / 512) {
            problems.append("guest saw capacity \(capacity) sectors")
        }
        let expectedWorkers = Set((1..<UInt32(vcpus)).map { expectedWorkerResult(index: $0) })
        if Set(reports.workers) != expectedWorkers || reports.workers.count != vcpus - 1 {
            problems.append("worker reports \(reports.workers.map { String($0, radix: 16) }) do not match")
        } else if vcpus > 1 {
            print("workers: \(vcpus - 1) vCPU(s) reported correct results")
        }
        if problems.isEmpty {
            print("result: SUCCESS (guest checksum 0x\(String(expectedChecksum, radix: 16)) matches the host's)")
        } else {
            for problem in problems { print("result: FAILURE: \(problem)") }
            throw ExitCode(1)
        }
    }
}
