// kvm-info: what this host's KVM offers — API version, limits and every capability.
//
//     swift run kvm-info            # table
//     swift run kvm-info --json     # machine-readable
//     swift run kvm-info --all      # also list capabilities that are absent
import ArgumentParser
import Foundation
import KVM
import SystemPackage

@main
struct KVMInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvm-info", abstract: "Print the host's KVM API version, limits and capabilities.")

    @Option(help: "Path of the KVM device.")
    var device: String = "/dev/kvm"

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "List absent capabilities too (value 0).")
    var all = false

    func run() throws {
        let kvm: KVMSystem
        let limits: [(String, Int)]
        do {
            kvm = try KVMSystem(path: .init(device))
            limits = [
                ("api_version", Int(try kvm.apiVersion())),
                ("recommended_vcpus", try kvm.recommendedVCPUs()),
                ("max_vcpus", try kvm.maxVCPUs()),
                ("max_vcpu_id", try kvm.maxVCPUID()),
                ("memory_slots", try kvm.maxMemorySlots()),
                ("vcpu_mmap_size", try kvm.vcpuMmapSize()),
                ("supported_cpuid_entries", try kvm.supportedCPUID().count),
                ("msr_indices", try kvm.msrIndexList().count),
            ]
        } catch {
            // One line naming the device; with --json, also a JSON document on standard output.
            _ = try? FileDescriptor.standardError.writeAll("kvm-info: cannot use \(device): \(error)\n".utf8)
            if json {
                print("{\"device\": \(Self.quoted(device)), \"error\": {\"message\": \(Self.quoted("\(error)"))}}")
            }
            throw ExitCode.failure
        }
        var capabilities: [(KVMCapability, Int32)] = []
        for cap in KVMCapability.allKnown {
            let value = (try? kvm.check(cap)) ?? 0
            if value != 0 || all { capabilities.append((cap, value)) }
        }

        if json {
            let limitText = limits.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
            let capText = capabilities.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
            print("{\"device\": \(Self.quoted(device)), \(limitText), \"capabilities\": {\(capText)}}")
            return
        }
        print("KVM at \(device)")
        for (name, value) in limits {
            print("  \(name.padding(to: 26))\(value)")
        }
        print("\nCapabilities (\(capabilities.filter { $0.1 != 0 }.count) present):")
        for (cap, value) in capabilities {
            print("  \(cap.description.padding(to: 34))\(value)")
        }
    }
}

extension KVMInfo {
    /// `text` as a JSON string literal (escaped by Foundation's encoder).
    static func quoted(_ text: String) -> String {
        (try? JSONEncoder().encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
