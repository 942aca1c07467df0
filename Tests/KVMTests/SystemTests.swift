import HostSupport
import KVM
import SystemPackage
import TestSupport
import Testing

extension KVMTests {
    @Suite struct System {
        @Test func apiVersionAndLimits() throws {
            let kvm = try KVMSystem()
            #expect(try kvm.apiVersion() == 12)
            #expect(try kvm.vcpuMmapSize() >= 4096)
            #expect(try kvm.maxVCPUs() >= 1)
            #expect(try kvm.maxVCPUID() >= kvm.maxVCPUs())
            #expect(try kvm.maxMemorySlots() >= 32)
        }

        @Test func capabilitiesAreTyped() throws {
            let kvm = try KVMSystem()
            // Capabilities every x86 KVM since 2.6.2x has.
            for cap: KVMCapability in [.userMemory, .setTssAddr, .irqchip, .ioeventfd, .irqfd, .immediateExit] {
                #expect(kvm.has(cap), "missing \(cap)")
            }
            #expect(KVMCapability.irqchip.description == "IRQCHIP")
            #expect(KVMCapability(rawValue: 100_000).description == "CAP_100000")
            #expect(Set(KVMCapability.allKnown).count == KVMCapability.allKnown.count)
        }

        @Test func cpuidAndMSRLists() throws {
            let kvm = try KVMSystem()
            let supported = try kvm.supportedCPUID()
            let leaf0 = try #require(supported.entry(function: 0))
            #expect(leaf0.eax >= 1, "max basic leaf")
            #expect(supported.entry(function: 1) != nil)
            _ = try kvm.emulatedCPUID()
            let msrs = try kvm.msrIndexList()
            #expect(msrs.contains(MSRIndex.star))
            #expect(msrs.contains(MSRIndex.lstar))
            try whenAvailable(
                kvm.has(.getMsrFeatures), "the feature-MSR list", missing: "no KVM_CAP_GET_MSR_FEATURES on this host"
            ) {
                let features = try kvm.msrFeatureIndexList()
                #expect(try kvm.featureMSRs(features).count == features.count)
            }
        }

        @Test func openingSomethingElseFailsCleanly() throws {
            #expect(throws: KVMError.systemCall(operation: "open /nonexistent/kvm", errno: .noSuchFileOrDirectory)) {
                try KVMSystem(path: "/nonexistent/kvm")
            }
            // /dev/null opens but is not KVM: the API-version ioctl fails with ENOTTY.
            #expect(throws: KVMError.systemCall(operation: "KVM_GET_API_VERSION", errno: .inappropriateIOCTLForDevice))
            {
                try KVMSystem(path: "/dev/null")
            }
            #expect(!KVMSystem.isAvailable(path: "/dev/null"))
        }

        @Test func badArgumentsYieldTypedErrno() throws {
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            let memory = HostMemory(size: 0x2000)
            // A guest address that is not page aligned.
            #expect(throws: KVMError.systemCall(operation: "KVM_SET_USER_MEMORY_REGION", errno: .invalidArgument)) {
                try vm.setUserMemoryRegion(
                    UserMemoryRegion(slot: 0, guestPhysicalAddress: 0x123, size: 0x1000, memory: memory.base))
            }
            // Two slots that overlap.
            try vm.setUserMemoryRegion(
                UserMemoryRegion(slot: 0, guestPhysicalAddress: 0, size: 0x2000, memory: memory.base))
            #expect(throws: KVMError.systemCall(operation: "KVM_SET_USER_MEMORY_REGION", errno: .fileExists)) {
                try vm.setUserMemoryRegion(
                    UserMemoryRegion(slot: 1, guestPhysicalAddress: 0x1000, size: 0x1000, memory: memory.base))
            }
            // A vCPU id past the host's limit.
            let tooLarge = UInt64(try kvm.maxVCPUID()) + 1
            #expect(throws: KVMError.systemCall(operation: "KVM_CREATE_VCPU", errno: .invalidArgument)) {
                try vm.createVCPU(id: tooLarge)
            }
            // Rejected before the kernel: the message names the problem.
            #expect(throws: KVMError.invalidArgument("ioeventfd length must be 0, 1, 2, 4 or 8, not 3")) {
                try vm.registerIoEventFD(EventFD(), address: .pio(0x10), length: 3)
            }
        }

        @Test(.usesKVM(exclusively: true)) func noDescriptorLeaks() throws {
            let before = kvmDescriptorLinks()
            for _ in 0..<5 {
                let machine = try TestMachine { vm in
                    try vm.createIRQChip()
                    try vm.createPIT2()
                }
                let second = try machine.vm.createVCPU(id: 1)
                let notify = try EventFD()
                let irq = try EventFD()
                try machine.vm.registerIoEventFD(notify, address: .mmio(0x9000), length: 4)
                try machine.vm.registerIRQFD(irq, gsi: 5)
                try machine.loadRealMode(Guest.inAddOut)
                _ = try machine.runToExit()
                #expect(kvmDescriptorLinks().count > before.count)
                _ = second
            }
            #expect(kvmDescriptorLinks() == before)
        }
    }
}
