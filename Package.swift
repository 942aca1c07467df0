// swift-tools-version:6.0
//
// swift-vmm: virtualization primitives for building virtual machine monitors in Swift.
// See ARCHITECTURE.md for how the targets fit together. The layers, from the bottom (a target
// depends only on targets of lower layers):
//
//   1. HostSupport                       descriptors, system calls, eventfd, clock, threads, PRNG
//   2. GuestMemory, KVM, BlockStorage,   guest memory; /dev/kvm; block devices and image I/O;
//      DeviceModel                       buses, interrupt signals, legacy devices
//   3. VCPU, VHD, ResourceAllocator,     vCPU run loop and x86 set-up; VHD images; address/id
//      HostPlacement, Scheduling         allocation; host admission and placement; policies
//   4. Devices, VCPUScheduler,           virtio devices; the dispatcher that drives real vCPUs;
//      LinuxLoader                       Linux kernel images
//   5. Examples/, Benchmarks/
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let systemPackage: Target.Dependency = .product(name: "SystemPackage", package: "swift-system")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "swift-vmm",
    products: [
        .library(name: "HostSupport", targets: ["HostSupport"]),
        .library(name: "GuestMemory", targets: ["GuestMemory"]),
        .library(name: "KVM", targets: ["KVM"]),
        .library(name: "BlockStorage", targets: ["BlockStorage"]),
        .library(name: "DeviceModel", targets: ["DeviceModel"]),
        .library(name: "VCPU", targets: ["VCPU"]),
        .library(name: "VHD", targets: ["VHD"]),
        .library(name: "ResourceAllocator", targets: ["ResourceAllocator"]),
        .library(name: "HostPlacement", targets: ["HostPlacement"]),
        .library(name: "Scheduling", targets: ["Scheduling"]),
        .library(name: "VCPUScheduler", targets: ["VCPUScheduler"]),
        .library(name: "Devices", targets: ["Devices"]),
        .library(name: "LinuxLoader", targets: ["LinuxLoader"]),
        .library(name: "Machine", targets: ["Machine"]),
        .executable(name: "kvm-info", targets: ["kvm-info"]),
        .executable(name: "hello-vm", targets: ["hello-vm"]),
        .executable(name: "vhd", targets: ["vhd"]),
        .executable(name: "mini-vmm", targets: ["mini-vmm"]),
        .executable(name: "sched-demo", targets: ["sched-demo"]),
        .executable(name: "linux-vm", targets: ["linux-vm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // MARK: 1. Host support
        .target(name: "CHostSupport"),
        .target(name: "HostSupport", dependencies: ["CHostSupport", systemPackage], swiftSettings: swiftSettings),
        .testTarget(
            name: "HostSupportTests", dependencies: ["HostSupport", "TestSupport"], swiftSettings: swiftSettings),

        // MARK: 2. Guest memory, KVM, block storage, device model
        .target(name: "CGuestMemory"),
        .target(
            name: "GuestMemory", dependencies: ["CGuestMemory", "HostSupport", systemPackage],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GuestMemoryTests", dependencies: ["GuestMemory", "TestSupport"], swiftSettings: swiftSettings),

        .target(name: "CKVM"),
        .target(
            name: "KVM", dependencies: ["CKVM", "GuestMemory", "HostSupport", systemPackage],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KVMTests", dependencies: ["KVM", "GuestMemory", "TestSupport", "kvm-info"],
            swiftSettings: swiftSettings),

        .target(
            name: "BlockStorage", dependencies: ["CHostSupport", "HostSupport", systemPackage],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BlockStorageTests", dependencies: ["BlockStorage", "TestSupport"], swiftSettings: swiftSettings),

        .target(name: "DeviceModel", dependencies: ["HostSupport", systemPackage], swiftSettings: swiftSettings),
        .testTarget(
            name: "DeviceModelTests", dependencies: ["DeviceModel", "HostSupport", "TestSupport"],
            swiftSettings: swiftSettings),

        // MARK: 3. vCPU, VHD, allocation, placement, scheduling policies
        .target(
            name: "VCPU", dependencies: ["KVM", "GuestMemory", "DeviceModel", "HostSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "VCPUTests", dependencies: ["VCPU", "DeviceModel", "HostSupport", "TestSupport", "hello-vm"],
            swiftSettings: swiftSettings),

        .target(
            name: "VHD", dependencies: ["BlockStorage", "HostSupport", systemPackage], swiftSettings: swiftSettings),
        .testTarget(
            name: "VHDTests", dependencies: ["VHD", "vhd", "vhd-fuzz", "TestSupport"], swiftSettings: swiftSettings),

        .target(name: "ResourceAllocator", dependencies: ["HostSupport"], swiftSettings: swiftSettings),
        .target(
            name: "HostPlacement", swiftSettings: swiftSettings,
            // Overcommit and DRF arithmetic call libm (round, rint, trunc, ceil, floor): link it for
            // an embedder that depends on this product alone (.ci/embedder-check.sh proves it).
            linkerSettings: [.linkedLibrary("m")]),
        .testTarget(
            name: "ResourceAllocatorTests", dependencies: ["ResourceAllocator", "HostPlacement", "HostSupport"],
            swiftSettings: swiftSettings),

        .target(name: "Scheduling", dependencies: ["HostSupport"], swiftSettings: swiftSettings),

        // MARK: 4. Virtio devices, the vCPU dispatcher
        .target(
            name: "Devices",
            dependencies: ["GuestMemory", "KVM", "DeviceModel", "BlockStorage", "ResourceAllocator", "HostSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DevicesTests", dependencies: ["Devices", "VHD", "VCPU", "TestSupport", "mini-vmm", "VirtioGuests"],
            swiftSettings: swiftSettings),

        // MARK: 4. The Linux loader: kernel images (and, next, boot parameters and tables)
        .target(
            name: "LinuxLoader", dependencies: ["GuestMemory", "DeviceModel", "ResourceAllocator", "HostSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "LinuxLoaderTests",
            dependencies: [
                "LinuxLoader", "GuestMemory", "DeviceModel", "ResourceAllocator", "HostSupport", "TestSupport",
                "LinuxLoaderFixtures",
                "kernel-fuzz",
            ],
            swiftSettings: swiftSettings),
        // The libFuzzer glue of the fuzz targets.
        .target(name: "FuzzSupport", path: "Tests/FuzzSupport", swiftSettings: swiftSettings),
        // Synthetic kernel images, shared by the loader's tests and its fuzz target.
        .target(name: "LinuxLoaderFixtures", path: "Tests/LinuxLoaderFixtures", swiftSettings: swiftSettings),
        // The slow end-to-end suite: a real kernel booted by the linux-vm example (run once per CI run).
        .testTarget(
            name: "LinuxBootTests",
            dependencies: [
                "LinuxLoader", "LinuxLoaderFixtures", "ResourceAllocator", "KVM", "TestSupport", "linux-vm",
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "kernel-fuzz", dependencies: ["LinuxLoader", "GuestMemory", "LinuxLoaderFixtures", "FuzzSupport"],
            path: "Tests/KernelFuzz", exclude: ["run-fuzz.sh", "Corpus"], swiftSettings: swiftSettings),

        .target(
            name: "VCPUScheduler", dependencies: ["Scheduling", "KVM", "VCPU", "DeviceModel", "HostSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "VCPUSchedulerTests",
            dependencies: ["Scheduling", "VCPUScheduler", "SchedulerGuests", "TestSupport", "sched-demo"],
            swiftSettings: swiftSettings),

        // Every ```swift block of README.md, compiled as written (and run where it is self-contained).
        .testTarget(
            name: "READMETests",
            dependencies: [
                "HostSupport", "GuestMemory", "KVM", "BlockStorage", "DeviceModel", "VCPU", "VHD", "ResourceAllocator",
                "HostPlacement", "Scheduling", "VCPUScheduler", "Devices", "LinuxLoader", "Machine", "TestSupport",
                systemPackage,
            ],
            swiftSettings: swiftSettings),

        // MARK: Test support (not products)
        // The KVM test gate, the one small-VM fixture, running built executables.
        .target(
            name: "TestSupport", dependencies: ["HostSupport", "KVM", "GuestMemory"], path: "Tests/TestSupport",
            swiftSettings: swiftSettings),
        // Tiny counting guests on gated vCPUs, shared by the scheduler's KVM tests, sched-demo
        // and sched-bench.
        .target(
            name: "SchedulerGuests", dependencies: ["KVM", "VCPU", "GuestMemory", "VCPUScheduler", "HostSupport"],
            path: "Tests/SchedulerGuests", swiftSettings: swiftSettings),
        .executableTarget(
            name: "vhd-fuzz", dependencies: ["VHD", "BlockStorage", "FuzzSupport", systemPackage],
            path: "Tests/VHDFuzz",
            exclude: ["run-fuzz.sh", "Corpus"], swiftSettings: swiftSettings),

        // MARK: 5. The machine API and the VM manager (on every target below; nothing depends on it)
        .target(
            name: "Machine",
            dependencies: [
                "LinuxLoader", "Devices", "VCPUScheduler", "Scheduling", "VCPU", "VHD", "ResourceAllocator",
                "HostPlacement", "KVM", "GuestMemory", "BlockStorage", "DeviceModel", "HostSupport", systemPackage,
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MachineTests",
            dependencies: [
                "Machine", "HostPlacement", "HostSupport", "LinuxLoader", "VCPU", "DeviceModel", "TestSupport",
                "LinuxLoaderFixtures",
                "MiniVMMGuest", "VirtioGuests",
            ],
            swiftSettings: swiftSettings),

        // MARK: 6. Examples
        .target(name: "HelloGuest", path: "Examples/hello-vm/Guest"),
        .executableTarget(
            name: "hello-vm",
            dependencies: ["KVM", "VCPU", "DeviceModel", "GuestMemory", "HelloGuest", "HostSupport", argumentParser],
            path: "Examples/hello-vm", exclude: ["Guest"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "kvm-info", dependencies: ["KVM", argumentParser, systemPackage], path: "Examples/kvm-info",
            swiftSettings: swiftSettings),
        // What the examples' command lines share (byte counts, error lines).
        .target(
            name: "ExampleSupport", dependencies: [argumentParser], path: "Examples/Shared",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "vhd", dependencies: ["VHD", "BlockStorage", "HostSupport", "ExampleSupport", argumentParser],
            path: "Examples/vhd", swiftSettings: swiftSettings),
        .executableTarget(
            name: "sched-demo", dependencies: ["Scheduling", "VCPUScheduler", "SchedulerGuests", argumentParser],
            path: "Examples/sched-demo", swiftSettings: swiftSettings),
        // Tiny assembly guests that drive the virtio console and vsock devices (clang assembles
        // them): the devices' KVM tests run them, and so does mini-vmm's --channels demo.
        .target(name: "VirtioGuests", path: "Examples/VirtioGuests", exclude: ["virtio_mmio.inc"]),
        // The mini-vmm guest program (GNU as source, assembled by SwiftPM; see build-guest.sh).
        .target(name: "MiniVMMGuest", path: "Examples/mini-vmm/Guest", exclude: ["build-guest.sh"]),
        .executableTarget(
            name: "mini-vmm",
            dependencies: [
                "Machine", "Devices", "DeviceModel", "MiniVMMGuest", "VirtioGuests", "VCPU", "VHD", "BlockStorage",
                "Scheduling", "VCPUScheduler", "HostSupport", "ExampleSupport", argumentParser,
            ],
            path: "Examples/mini-vmm", exclude: ["Guest"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "linux-vm", dependencies: ["Machine", "ExampleSupport", argumentParser],
            path: "Examples/linux-vm", swiftSettings: swiftSettings),

        // MARK: 7. Benchmarks (run with `swift run -c release <name> [--json]`)
        .target(
            name: "BenchmarkSupport", dependencies: ["HostSupport", argumentParser],
            path: "Benchmarks/BenchmarkSupport",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "allocator-bench", dependencies: ["BenchmarkSupport", "ResourceAllocator", "HostPlacement"],
            path: "Benchmarks/allocator-bench", swiftSettings: swiftSettings),
        .executableTarget(
            name: "guest-memory-bench", dependencies: ["BenchmarkSupport", "GuestMemory", argumentParser],
            path: "Benchmarks/guest-memory-bench", swiftSettings: swiftSettings),
        .executableTarget(
            name: "vhd-bench", dependencies: ["BenchmarkSupport", "VHD", "BlockStorage", argumentParser],
            path: "Benchmarks/vhd-bench", swiftSettings: swiftSettings),
        .executableTarget(
            name: "sched-bench", dependencies: ["BenchmarkSupport", "Scheduling", "VCPUScheduler", "SchedulerGuests"],
            path: "Benchmarks/sched-bench", swiftSettings: swiftSettings),
        .target(name: "CExitLoop", path: "Benchmarks/CExitLoop"),
        .executableTarget(
            name: "exit-bench",
            dependencies: [
                "KVM", "VCPU", "DeviceModel", "CExitLoop", "BenchmarkSupport", "TestSupport", argumentParser,
            ],
            path: "Benchmarks/exit-bench", swiftSettings: swiftSettings),
        .target(name: "CFirstExit", path: "Benchmarks/CFirstExit"),
        .executableTarget(
            name: "devices-bench",
            dependencies: [
                "BenchmarkSupport", "CFirstExit", "Devices", "DeviceModel", "GuestMemory", "HostSupport", "KVM", "VCPU",
                "VHD", "BlockStorage", "TestSupport", argumentParser,
            ],
            path: "Benchmarks/devices-bench", swiftSettings: swiftSettings),
        .executableTarget(
            name: "machine-bench",
            dependencies: [
                "BenchmarkSupport", "Machine", "HostPlacement", "KVM", "VCPU", "GuestMemory", "HostSupport",
                "Scheduling", "VCPUScheduler", argumentParser,
            ],
            path: "Benchmarks/machine-bench", swiftSettings: swiftSettings),
        .executableTarget(
            name: "boot-bench", dependencies: ["BenchmarkSupport", "TestSupport", "linux-vm", argumentParser],
            path: "Benchmarks/boot-bench", swiftSettings: swiftSettings),
    ]
)
