import Foundation
import KVM
import TestSupport
import Testing

extension KVMTests {
    /// `kvm-info`, run as a user runs it, reports what the library reads from `/dev/kvm`
    /// (API version, limits, capability values), prints one JSON document with `--json` even
    /// when the device cannot be used, names the device at fault, and exits 64 on a usage error.
    @Suite(.enabled(if: builtExecutable(named: "kvm-info") != nil, "kvm-info not found next to the test bundle"))
    struct KVMInfoTool {
        static var tool: String { builtExecutable(named: "kvm-info")! }

        @Test func jsonReportsWhatTheLibraryReads() throws {
            let kvm = try KVMSystem()
            let result = try runProcess(Self.tool, ["--json"])
            #expect(result.status == 0, "\(result.standardError)")
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [String: Any])
            #expect(report["device"] as? String == "/dev/kvm")
            #expect(report["api_version"] as? Int == Int(try kvm.apiVersion()))
            #expect(report["max_vcpus"] as? Int == (try kvm.maxVCPUs()))
            #expect(report["memory_slots"] as? Int == (try kvm.maxMemorySlots()))
            #expect(report["supported_cpuid_entries"] as? Int == (try kvm.supportedCPUID().count))
            let capabilities = try #require(report["capabilities"] as? [String: Int])
            for capability in [KVMCapability.irqchip, .userMemory, .coalescedMmio, .irqRouting] {
                let value = Int(try kvm.check(capability))
                #expect(capabilities[capability.description] == (value == 0 ? nil : value), "\(capability)")
            }
            // Without --all, only the capabilities present; with it, every known one.
            #expect(capabilities.values.allSatisfy { $0 != 0 })
            let all = try runProcess(Self.tool, ["--json", "--all"])
            let every = try #require(
                (try JSONSerialization.jsonObject(with: Data(all.standardOutput)) as? [String: Any])?["capabilities"]
                    as? [String: Int])
            #expect(every.count == KVMCapability.allKnown.count)
        }

        @Test func aDeviceItCannotUseIsNamedAndJSONStaysJSON() throws {
            let dir = try TemporaryDirectory()
            let missing = dir.file("no \"kvm\" here")
            let text = try runProcess(Self.tool, ["--device", missing])
            #expect(text.status == 1)
            #expect(text.standardError.hasPrefix("kvm-info: cannot use \(missing): "), "\(text.standardError)")
            let json = try runProcess(Self.tool, ["--device", missing, "--json"])
            #expect(json.status == 1)
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(json.standardOutput)) as? [String: Any], "\(json.text)")
            #expect(document["device"] as? String == missing)
            #expect(((document["error"] as? [String: Any])?["message"] as? String)?.contains("No such file") == true)
        }

        @Test func usageErrorsExit64() throws {
            for arguments in [["--bogus"], ["--device"], ["extra"]] {
                #expect(try runProcess(Self.tool, arguments).status == 64, "\(arguments)")
            }
        }
    }
}
