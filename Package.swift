// swift-tools-version:6.0
//
// swift-vmm: virtualization primitives for building virtual machine monitors in Swift.
// See ARCHITECTURE.md for how the targets fit together.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "swift-vmm",
    products: [
        .library(name: "KVM", targets: ["KVM"]),
        .library(name: "VCPU", targets: ["VCPU"]),
        .executable(name: "kvm-info", targets: ["kvm-info"]),
        .executable(name: "hello-vm", targets: ["hello-vm"]),
        .library(name: "ResourceAllocator", targets: ["ResourceAllocator"]),
        .library(name: "GuestMemory", targets: ["GuestMemory"]),
        .library(name: "VHD", targets: ["VHD"]),
        .library(name: "VCPUScheduler", targets: ["VCPUScheduler"]),
        .executable(name: "vhd", targets: ["vhd"]),
        .library(name: "Devices", targets: ["Devices"]),
        .executable(name: "mini-vmm", targets: ["mini-vmm"]),
        .executable(name: "sched-demo", targets: ["sched-demo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: KVM
        .target(name: "CKVM"),
        .target(
            name: "KVM",
            dependencies: ["CKVM", "GuestMemory", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KVMTests", dependencies: ["KVM", "GuestMemory", "TestSupport"], swiftSettings: swiftSettings),
        // Shared by the test targets: the KVM test gate, running built executables (not a product).
        .target(name: "TestSupport", dependencies: ["ResourceAllocator"], path: "Tests/TestSupport", swiftSettings: swiftSettings),

        // MARK: VCPU
        .target(name: "VCPU", dependencies: ["KVM", "GuestMemory"], swiftSettings: swiftSettings),
        .testTarget(name: "VCPUTests", dependencies: ["VCPU", "TestSupport", "hello-vm"], swiftSettings: swiftSettings),

        // MARK: ResourceAllocator
        .target(name: "ResourceAllocator", swiftSettings: swiftSettings),
        .testTarget(
            name: "ResourceAllocatorTests",
            dependencies: ["ResourceAllocator"],
            swiftSettings: swiftSettings
        ),

        // MARK: GuestMemory
        .target(name: "CGuestMemory"),
        .target(
            name: "GuestMemory",
            dependencies: ["CGuestMemory", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "GuestMemoryTests", dependencies: ["GuestMemory", "TestSupport"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "guest-memory-bench",
            dependencies: ["BenchmarkSupport", "GuestMemory", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/guest-memory-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: VHD
        .target(name: "CVHD"),
        .target(
            name: "VHD",
            dependencies: ["CVHD", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "VHDTests", dependencies: ["VHD", "vhd", "TestSupport"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "vhd",
            dependencies: ["VHD", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/vhd",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "vhd-fuzz",
            dependencies: ["VHD", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/VHDFuzz",
            exclude: ["run-fuzz.sh"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "vhd-bench",
            dependencies: ["BenchmarkSupport", "VHD", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/vhd-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: VCPUScheduler
        .target(name: "VCPUScheduler", dependencies: ["KVM", "VCPU"], swiftSettings: swiftSettings),
        // Tiny counting guests on gated vCPUs, shared by the scheduler's KVM tests, sched-demo
        // and sched-bench (not a product).
        .target(
            name: "SchedulerGuests", dependencies: ["KVM", "VCPU", "GuestMemory", "VCPUScheduler"],
            path: "Tests/SchedulerGuests", swiftSettings: swiftSettings),
        .testTarget(
            name: "VCPUSchedulerTests", dependencies: ["VCPUScheduler", "SchedulerGuests", "TestSupport"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "sched-bench",
            dependencies: ["BenchmarkSupport", "VCPUScheduler", "SchedulerGuests"],
            path: "Benchmarks/sched-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sched-demo",
            dependencies: ["VCPUScheduler", "SchedulerGuests"],
            path: "Examples/sched-demo",
            swiftSettings: swiftSettings
        ),

        // MARK: Devices
        .target(
            name: "Devices",
            dependencies: ["GuestMemory", "KVM", "VCPU", "VHD", "ResourceAllocator"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DevicesTests",
            dependencies: ["Devices", "TestSupport", "mini-vmm"],
            swiftSettings: swiftSettings
        ),
        // The mini-vmm guest program (GNU as source, assembled by SwiftPM; see build-guest.sh).
        .target(name: "MiniVMMGuest", path: "Examples/mini-vmm/Guest", exclude: ["build-guest.sh"]),
        .executableTarget(
            name: "mini-vmm",
            dependencies: [
                "Devices", "MiniVMMGuest", "GuestMemory", "KVM", "VCPU", "VHD", "ResourceAllocator", "VCPUScheduler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Examples/mini-vmm",
            exclude: ["Guest"],
            swiftSettings: swiftSettings
        ),

        .target(name: "CFirstExit", path: "Benchmarks/CFirstExit"),
        .executableTarget(
            name: "devices-bench",
            dependencies: [
                "BenchmarkSupport", "CFirstExit", "Devices", "GuestMemory", "KVM", "VCPU", "VHD",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/devices-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks (run with `swift run -c release <name> [--json]`)
        .target(
            name: "BenchmarkSupport",
            dependencies: ["VCPU", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/BenchmarkSupport",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "allocator-bench",
            dependencies: ["BenchmarkSupport", "ResourceAllocator"],
            path: "Benchmarks/allocator-bench",
            swiftSettings: swiftSettings
        ),

        .target(name: "CExitLoop", path: "Benchmarks/CExitLoop"),
        .executableTarget(
            name: "exit-bench",
            dependencies: [
                "KVM", "VCPU", "CExitLoop", "BenchmarkSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/exit-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: Examples
        .target(name: "HelloGuest", path: "Examples/hello-vm/Guest"),
        .executableTarget(
            name: "hello-vm",
            dependencies: ["KVM", "VCPU", "GuestMemory", "HelloGuest", .product(name: "SystemPackage", package: "swift-system")],
            path: "Examples/hello-vm",
            exclude: ["Guest"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kvm-info",
            dependencies: [
                "KVM", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Examples/kvm-info",
            swiftSettings: swiftSettings
        ),
    ]
)
