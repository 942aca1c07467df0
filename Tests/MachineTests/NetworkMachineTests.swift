import DeviceModel
import Devices
import Foundation
import KVM
import Machine
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A configuration's network cards and rate limits are checked before anything is built (TAP
/// names, duplicates, the number of cards, buckets of size or refill 0), survive a JSON round
/// trip (and a configuration from before them still reads); a VM with a card creates its TAP
/// interface, places the card after the other devices, and removes the interface when it goes.
struct NetworkMachineTests {
    func configuration(networks: [NetworkConfiguration], disks: [DiskConfiguration] = [], in dir: TemporaryDirectory)
        throws -> VirtualMachineConfiguration
    {
        let image = dir.file("halt.bin")
        try Data([0xf4]).write(to: URL(fileURLWithPath: image))  // hlt
        return VirtualMachineConfiguration(
            name: "net", vcpuCount: 1, memorySize: 4 << 20,
            boot: .flatBinary(FlatBinaryBoot(path: image, loadAddress: 0x10000, mode: .long)), disks: disks,
            console: .none, networks: networks)
    }

    @Test func badCardsAndLimitsAreReportedByName() throws {
        let dir = try TemporaryDirectory()
        let zero = RateLimits(bandwidth: .init(size: 0, refillTimeNanoseconds: 1))
        let problems = try configuration(
            networks: [
                NetworkConfiguration(tapName: ""), NetworkConfiguration(tapName: "tap-with-a-long-name"),
                NetworkConfiguration(tapName: "tap0"), NetworkConfiguration(tapName: "tap0", transmitLimits: zero),
            ], in: dir
        ).problems()
        #expect(
            problems == [
                .network("card 0: TAP name \"\": 1 to 15 bytes, no \"/\" or space"),
                .network("card 1: TAP name \"tap-with-a-long-name\": 1 to 15 bytes, no \"/\" or space"),
                .network("card 3: TAP tap0 is given twice"),
                .rateLimits("network 3 transmit bandwidth: size and refill time must be more than 0"),
            ])
        let many = try configuration(
            networks: (0..<9).map { NetworkConfiguration(tapName: "tap\($0)") }, in: dir
        ).problems()
        #expect(many == [.network("9 cards, at most 8")])
    }

    @Test func cardsAndLimitsSurviveJSONAndOlderConfigurationsStillRead() throws {
        let dir = try TemporaryDirectory()
        let configuration = try configuration(
            networks: [
                NetworkConfiguration(
                    tapName: "tap0", mac: MACAddress([0x52, 0x54, 0, 1, 2, 3]),
                    receiveLimits: RateLimits(
                        bandwidth: .rate(10 << 20)), transmitLimits: RateLimits(operations: .rate(1000)))
            ], disks: [DiskConfiguration(path: dir.file("d.img"), rateLimits: RateLimits(bandwidth: .rate(1 << 20)))],
            in: dir)
        let data = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(VirtualMachineConfiguration.self, from: data) == configuration)
        // Without the `networks` key (a configuration written before network cards existed).
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["networks"] = nil
        let older = try JSONDecoder().decode(
            VirtualMachineConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(older.networks.isEmpty)
    }

    @Test(
        .usesKVM,
        .enabled(
            if: KVMSystem.isAvailable() && getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun"),
            "needs /dev/kvm, root and /dev/net/tun"))
    func aVMCreatesItsTAPInterfaceAndRemovesItWhenItGoes() throws {
        let dir = try TemporaryDirectory()
        let name = "svmmvm\(getpid() % 100_000)"
        do {
            let vm = try VirtualMachine(
                configuration: try configuration(networks: [NetworkConfiguration(tapName: name)], in: dir))
            #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(name)"), "the TAP interface exists")
            let card = try #require(vm.networkPlacements.first)
            #expect(vm.networkDevices.count == 1)
            #expect(card.mmioBase > 0)
            // Its MAC is locally administered and stable for the VM's name and the card's index.
            #expect(Array(vm.networkDevices[0].mac.bytes.prefix(3)) == [0x52, 0x54, 0x00])
            _ = vm.stop()
        }
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(name)"), "gone with the VM")
    }
}
