import BlockStorage
import Foundation
import KVM
import TestSupport
import Testing
import VHD

// Runs the README snippets that are complete programs (Snippets/*.swift; READMESnippetTests
// proves they are the README's text). Every snippet here ends on its own: loops are bounded and
// every guest halts. All of them run; none is compile-only.

/// Snippets of pure computation: no descriptors, no threads, no files.
@Suite("README snippets run: pure computation")
struct READMEComputationSnippetRuns {
    @Test func resourceAllocator() throws { try readmeSnippetResourceAllocator() }

    @Test func hostPlacement() throws { try readmeSnippetHostPlacement() }

    @Test func scheduling() throws { try readmeSnippetScheduling() }
}

/// Snippets that open eventfds or start threads: they take the KVM gate shared, so that the
/// descriptor and thread leak checks of the other test targets never see them.
@Suite("README snippets run: eventfds and threads", .usesKVM, .timeLimit(.minutes(1)))
struct READMEHostSnippetRuns {
    @Test func hostSupport() throws { try readmeSnippetHostSupport() }

    @Test func deviceModel() throws { try readmeSnippetDeviceModel() }
}

/// Snippets that drive real guests on /dev/kvm; each guest halts.
@Suite(
    "README snippets run: KVM", .usesKVM, .timeLimit(.minutes(1)),
    .enabled(if: KVMSystem.isAvailable(), "needs /dev/kvm"))
struct READMEKVMSnippetRuns {
    @Test func kvm() throws { try readmeSnippetKVM() }

    @Test(.enabled(if: hostHasDirtyRing(), "needs KVM_CAP_DIRTY_LOG_RING"))
    func guestMemoryOnKVM() throws { try readmeSnippetGuestMemoryOnKVM() }

    @Test func vcpu() throws { try readmeSnippetVCPU() }

    @Test func vcpuScheduler() throws { try readmeSnippetVCPUScheduler() }
}

/// Snippets that use files by relative name ("disk.img", "disk.vhd"): each runs with the
/// process's current directory changed to a fresh temporary directory holding the files it
/// opens, and changed back afterwards. The current directory is per process, so these run one
/// at a time (and no other test of the package uses relative paths).
@Suite("README snippets run: files in a temporary current directory", .serialized)
struct READMEFileSnippetRuns {
    @Test func guestMemory() throws {
        try inTemporaryCurrentDirectory { directory in
            // The "disk" the snippet reads its first 4 KiB from.
            try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: directory.file("disk.img")))
            try readmeSnippetGuestMemory()
        }
    }

    @Test func blockStorage() throws {
        try inTemporaryCurrentDirectory { directory in
            try readmeSnippetBlockStorage()
            let disk = try RawImage(path: directory.file("disk.img"), readOnly: true)
            #expect(disk.capacity == 1 << 20)
            #expect(try disk.read(at: 8 * 512, length: 4096) == [UInt8](repeating: 0xAB, count: 4096))
        }
    }

    @Test func vhd() throws {
        try inTemporaryCurrentDirectory { directory in
            try readmeSnippetVHD()
            let child = try VHDImage.open(path: directory.file("child.vhd"), readOnly: true)
            #expect(child.diskType == .differencing)
            #expect(try child.read(at: 1 << 20, length: 4096) == [UInt8](repeating: 0xAB, count: 4096))
        }
    }

    @Test(.enabled(if: TestKernels.bzImage != nil, "\(TestKernels.missing)"))
    func linuxLoader() throws {
        let kernel = try #require(TestKernels.bzImage)
        try inTemporaryCurrentDirectory { directory in
            // The kernel the snippet opens.
            try FileManager.default.copyItem(atPath: kernel, toPath: directory.file("vmlinuz"))
            try readmeSnippetLinuxLoader()
        }
    }

    @Test(.usesKVM, .timeLimit(.minutes(1)), .enabled(if: KVMSystem.isAvailable(), "needs /dev/kvm"))
    func devices() throws {
        try inTemporaryCurrentDirectory { directory in
            // The disk the snippet opens.
            _ = try VHDImage.create(path: directory.file("disk.vhd"), options: VHDCreateOptions(size: 1 << 20))
            try readmeSnippetDevices()
        }
    }
}

/// Runs `body` with the current directory changed to a new temporary directory, then changes
/// back (also when `body` throws).
func inTemporaryCurrentDirectory(_ body: (TemporaryDirectory) throws -> Void) throws {
    let directory = try TemporaryDirectory(prefix: "readme-snippet")
    let manager = FileManager.default
    let previous = manager.currentDirectoryPath
    try #require(manager.changeCurrentDirectoryPath(directory.path), "cannot change into \(directory.path)")
    defer { _ = manager.changeCurrentDirectoryPath(previous) }
    try body(directory)
}

/// Whether this host's KVM offers the dirty ring the "GuestMemory on KVM" snippet enables.
func hostHasDirtyRing() -> Bool {
    guard let kvm = try? KVMSystem() else { return false }
    return ((try? kvm.check(.dirtyLogRing)) ?? 0) > 0 || ((try? kvm.check(.dirtyLogRingAcqRel)) ?? 0) > 0
}
