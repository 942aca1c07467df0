// Generated from the KVM_CAP_* constants of <linux/kvm.h> (linux-libc-dev 6.1); the values are
// the kernel ABI. Add new ones the same way when the headers grow.

/// A KVM capability, as passed to `KVM_CHECK_EXTENSION` and `KVM_ENABLE_CAP`.
///
/// Every capability the 6.1 headers name has a static member (`.irqchip`, `.dirtyLogRing`, …);
/// a capability from newer headers can still be formed from its number with ``init(rawValue:)``.
///
/// Ask the system with ``KVMSystem/check(_:)`` or ``KVMSystem/has(_:)``, a VM with
/// ``KVMVirtualMachine/check(_:)`` (some answers are per VM), and turn one on with
/// ``KVMVirtualMachine/enable(_:arguments:flags:)`` or ``KVMVirtualCPU/enable(_:arguments:flags:)``.
/// The check value is 0 when the capability is absent, otherwise 1 or a capability-specific
/// number (noted below where it means something). Many capabilities exist only on other
/// architectures (PowerPC, s390, Arm, MIPS, RISC-V); on an x86 host they check as 0.
public struct KVMCapability: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The `KVM_CAP_*` number.
    public let rawValue: Int32

    /// The capability with number `rawValue` (any number; unknown ones are passed to the kernel as they are).
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The header's name without the `KVM_CAP_` prefix (for example `IRQCHIP`), or `CAP_<number>` for a
    /// capability the 6.1 headers do not name.
    public var description: String { Self.names[rawValue] ?? "CAP_\(rawValue)" }

    /// Every capability the 6.1 headers define, in numeric order.
    public static let allKnown: [KVMCapability] = [
        .irqchip, .hlt, .mmuShadowCacheControl, .userMemory, .setTssAddr, .vapic, .extCpuid,
        .clocksource, .nrVcpus, .nrMemslots, .pit, .nopIoDelay, .pvMmu, .mpState,
        .coalescedMmio, .syncMmu, .iommu, .destroyMemoryRegionWorks, .userNmi, .setGuestDebug,
        .reinjectControl, .irqRouting, .irqInjectStatus, .assignDevIrq, .joinMemoryRegionsWorks,
        .mce, .irqfd, .pit2, .setBootCpuId, .pitState2, .ioeventfd, .setIdentityMapAddr,
        .xenHvm, .adjustClock, .internalErrorData, .vcpuEvents, .s390Psw, .ppcSegstate, .hyperv,
        .hypervVapic, .hypervSpin, .pciSegment, .ppcPairedSingles, .intrShadow, .debugregs,
        .x86RobustSinglestep, .ppcOsi, .ppcUnsetIrq, .enableCap, .xsave, .xcrs, .ppcGetPvinfo,
        .ppcIrqLevel, .asyncPf, .tscControl, .getTscKhz, .ppcBookeSregs, .spaprTce, .ppcSmt,
        .ppcRma, .maxVcpus, .ppcHior, .ppcPapr, .swTlb, .oneReg, .s390Gmap, .tscDeadlineTimer,
        .s390Ucontrol, .syncRegs, .pci23, .kvmclockCtrl, .signalMsi, .ppcGetSmmuInfo, .s390Cow,
        .ppcAllocHtab, .readonlyMem, .irqfdResample, .ppcBookeWatchdog, .ppcHtabFd,
        .s390CssSupport, .ppcEpr, .armPsci, .armSetDeviceAddr, .deviceCtrl, .irqMpic, .ppcRtas,
        .irqXics, .armEl132bit, .spaprMultitce, .extEmulCpuid, .hypervTime,
        .ioapicPolarityIgnored, .enableCapVm, .s390Irqchip, .ioeventfdNoLength, .vmAttributes,
        .armPsci02, .ppcFixupHcall, .ppcEnableHcall, .checkExtensionVm, .s390UserSigp,
        .s390VectorRegisters, .s390MemOp, .s390UserStsi, .s390Skeys, .mipsFpu, .mipsMsa,
        .s390InjectIrq, .s390IrqState, .ppcHwrng, .disableQuirks, .x86Smm, .multiAddressSpace,
        .guestDebugHwBps, .guestDebugHwWps, .splitIrqchip, .ioeventfdAnyLength, .hypervSynic,
        .s390Ri, .spaprTce64, .armPmuV3, .vcpuAttributes, .maxVcpuId, .x2apicApi,
        .s390UserInstr0, .msiDevid, .ppcHtm, .spaprResizeHpt, .ppcMmuRadix, .ppcMmuHashV3,
        .immediateExit, .mipsVz, .mipsTe, .mips64bit, .s390Gs, .s390Ais, .spaprTceVfio,
        .x86DisableExits, .armUserIrq, .s390CmmaMigration, .ppcFwnmi, .ppcSmtPossible,
        .hypervSynic2, .hypervVpIndex, .s390AisMigration, .ppcGetCpuChar, .s390Bpb,
        .getMsrFeatures, .hypervEventfd, .hypervTlbflush, .s390Hpage1m, .nestedState,
        .armInjectSerrorEsr, .msrPlatformInfo, .ppcNestedHv, .hypervSendIpi, .coalescedPio,
        .hypervEnlightenedVmcs, .exceptionPayload, .armVmIpaSize, .manualDirtyLogProtect,
        .hypervCpuid, .manualDirtyLogProtect2, .ppcIrqXive, .armSve, .armPtrauthAddress,
        .armPtrauthGeneric, .pmuEventFilter, .armIrqLineLayout2, .hypervDirectTlbflush,
        .ppcGuestDebugSstep, .armNisvToUser, .armInjectExtDabt, .s390VcpuResets, .s390Protected,
        .ppcSecureGuest, .haltPoll, .asyncPfInt, .lastCpu, .smallerMaxphyaddr, .s390Diag318,
        .stealTime, .x86UserSpaceMsr, .x86MsrFilter, .enforcePvFeatureCpuid, .sysHypervCpuid,
        .dirtyLogRing, .x86BusLockExit, .ppcDawr1, .setGuestDebug2, .sgxAttribute,
        .vmCopyEncContextFrom, .ptpKvm, .hypervEnforceCpuid, .sregs2, .exitHypercall,
        .ppcRptInvalidate, .binaryStatsFd, .exitOnEmulationFailure, .armMte,
        .vmMoveEncContextFrom, .vmGpaBits, .xsave2, .sysAttributes, .ppcAilMode3,
        .s390MemOpExtension, .pmuCapability, .disableQuirks2, .vmTscControl, .systemEventData,
        .armSystemSuspend, .s390ProtectedDump, .x86TripleFaultEvent, .x86NotifyVmexit,
        .vmDisableNxHugePages, .s390ZpciOp, .s390CpuTopology, .dirtyLogRingAcqRel,
    ]

    /// `KVM_CAP_IRQCHIP`: in-kernel interrupt controllers (PICs, IOAPIC, local APICs): `KVM_CREATE_IRQCHIP`,
    /// `KVM_IRQ_LINE`.
    public static let irqchip = KVMCapability(rawValue: 0)
    /// `KVM_CAP_HLT`: an early, obsolete capability number for HLT handling; no current ioctl depends on it.
    public static let hlt = KVMCapability(rawValue: 1)
    /// `KVM_CAP_MMU_SHADOW_CACHE_CONTROL`: `KVM_SET_NR_MMU_PAGES` / `KVM_GET_NR_MMU_PAGES`: the size of the shadow
    /// MMU's page cache (x86, obsolete).
    public static let mmuShadowCacheControl = KVMCapability(rawValue: 2)
    /// `KVM_CAP_USER_MEMORY`: memory slots backed by user-space memory (`KVM_SET_USER_MEMORY_REGION`).
    public static let userMemory = KVMCapability(rawValue: 3)
    /// `KVM_CAP_SET_TSS_ADDR`: `KVM_SET_TSS_ADDR`: where the TSS that Intel VMX needs for real mode goes (x86).
    public static let setTssAddr = KVMCapability(rawValue: 4)
    /// `KVM_CAP_VAPIC`: `KVM_TPR_ACCESS_REPORTING` and `KVM_SET_VAPIC_ADDR`: TPR access acceleration through a
    /// virtual APIC page (x86).
    public static let vapic = KVMCapability(rawValue: 6)
    /// `KVM_CAP_EXT_CPUID`: `KVM_GET_SUPPORTED_CPUID` and `KVM_SET_CPUID2`: CPUID with sub-leaves (x86).
    public static let extCpuid = KVMCapability(rawValue: 7)
    /// `KVM_CAP_CLOCKSOURCE`: the kvmclock paravirtual clock source can be offered to guests (x86).
    public static let clocksource = KVMCapability(rawValue: 8)
    /// `KVM_CAP_NR_VCPUS`: the recommended maximum number of vCPUs per VM (the check value).
    public static let nrVcpus = KVMCapability(rawValue: 9)
    /// `KVM_CAP_NR_MEMSLOTS`: the number of memory slots per address space (the check value).
    public static let nrMemslots = KVMCapability(rawValue: 10)
    /// `KVM_CAP_PIT`: an in-kernel i8254 timer: `KVM_CREATE_PIT`, `KVM_GET_PIT` / `KVM_SET_PIT` (x86).
    public static let pit = KVMCapability(rawValue: 11)
    /// `KVM_CAP_NOP_IO_DELAY`: guests may skip port-0x80 I/O delays (the `KVM_FEATURE_NOP_IO_DELAY` paravirtual
    /// feature, x86).
    public static let nopIoDelay = KVMCapability(rawValue: 12)
    /// `KVM_CAP_PV_MMU`: paravirtual MMU operations through hypercalls (obsolete, removed from the kernel).
    public static let pvMmu = KVMCapability(rawValue: 13)
    /// `KVM_CAP_MP_STATE`: `KVM_GET_MP_STATE` / `KVM_SET_MP_STATE`: a vCPU's multiprocessing state.
    public static let mpState = KVMCapability(rawValue: 14)
    /// `KVM_CAP_COALESCED_MMIO`: coalesced MMIO: `KVM_REGISTER_COALESCED_MMIO` buffers writes to a zone in a ring;
    /// the check value is the ring's page offset in the vCPU mapping.
    public static let coalescedMmio = KVMCapability(rawValue: 15)
    /// `KVM_CAP_SYNC_MMU`: the guest sees changes to the host memory behind a slot (`munmap`, `madvise` …): KVM
    /// follows the host MMU.
    public static let syncMmu = KVMCapability(rawValue: 16)
    /// `KVM_CAP_IOMMU`: legacy PCI device assignment through the IOMMU (removed from the kernel).
    public static let iommu = KVMCapability(rawValue: 18)
    /// `KVM_CAP_DESTROY_MEMORY_REGION_WORKS`: deleting memory slots works (a historical bug-fix flag).
    public static let destroyMemoryRegionWorks = KVMCapability(rawValue: 21)
    /// `KVM_CAP_USER_NMI`: `KVM_NMI`: inject an NMI into a vCPU (x86).
    public static let userNmi = KVMCapability(rawValue: 22)
    /// `KVM_CAP_SET_GUEST_DEBUG`: `KVM_SET_GUEST_DEBUG`: single-stepping and breakpoints for a debugger.
    public static let setGuestDebug = KVMCapability(rawValue: 23)
    /// `KVM_CAP_REINJECT_CONTROL`: `KVM_REINJECT_CONTROL`: whether the in-kernel PIT re-injects lost timer ticks
    /// (x86).
    public static let reinjectControl = KVMCapability(rawValue: 24)
    /// `KVM_CAP_IRQ_ROUTING`: `KVM_SET_GSI_ROUTING`: a GSI routing table (interrupt-controller pins, MSIs).
    public static let irqRouting = KVMCapability(rawValue: 25)
    /// `KVM_CAP_IRQ_INJECT_STATUS`: `KVM_IRQ_LINE_STATUS`: reports whether a raised interrupt was delivered or
    /// coalesced.
    public static let irqInjectStatus = KVMCapability(rawValue: 26)
    /// `KVM_CAP_ASSIGN_DEV_IRQ`: interrupts of legacy assigned devices (`KVM_ASSIGN_DEV_IRQ`, removed from the
    /// kernel).
    public static let assignDevIrq = KVMCapability(rawValue: 29)
    /// `KVM_CAP_JOIN_MEMORY_REGIONS_WORKS`: adjacent memory slots can be joined (a historical bug-fix flag).
    public static let joinMemoryRegionsWorks = KVMCapability(rawValue: 30)
    /// `KVM_CAP_MCE`: machine-check injection: `KVM_X86_SETUP_MCE`, `KVM_X86_SET_MCE`; the check value is the number
    /// of MCE banks.
    public static let mce = KVMCapability(rawValue: 31)
    /// `KVM_CAP_IRQFD`: `KVM_IRQFD`: an eventfd whose signals inject a GSI.
    public static let irqfd = KVMCapability(rawValue: 32)
    /// `KVM_CAP_PIT2`: `KVM_CREATE_PIT2`: an in-kernel i8254 timer created with flags (x86).
    public static let pit2 = KVMCapability(rawValue: 33)
    /// `KVM_CAP_SET_BOOT_CPU_ID`: `KVM_SET_BOOT_CPU_ID`: which vCPU is the bootstrap processor (x86).
    public static let setBootCpuId = KVMCapability(rawValue: 34)
    /// `KVM_CAP_PIT_STATE2`: `KVM_GET_PIT2` / `KVM_SET_PIT2`: the in-kernel timer's state with flags (x86).
    public static let pitState2 = KVMCapability(rawValue: 35)
    /// `KVM_CAP_IOEVENTFD`: `KVM_IOEVENTFD`: a guest write to an address signals an eventfd without an exit to user
    /// space.
    public static let ioeventfd = KVMCapability(rawValue: 36)
    /// `KVM_CAP_SET_IDENTITY_MAP_ADDR`: `KVM_SET_IDENTITY_MAP_ADDR`: where the EPT identity-map page goes (x86).
    public static let setIdentityMapAddr = KVMCapability(rawValue: 37)
    /// `KVM_CAP_XEN_HVM`: Xen HVM guests (`KVM_XEN_HVM_CONFIG`); the check value is a mask of supported Xen features.
    public static let xenHvm = KVMCapability(rawValue: 38)
    /// `KVM_CAP_ADJUST_CLOCK`: `KVM_GET_CLOCK` / `KVM_SET_CLOCK`: the VM's kvmclock; the check value lists the
    /// supported flags.
    public static let adjustClock = KVMCapability(rawValue: 39)
    /// `KVM_CAP_INTERNAL_ERROR_DATA`: `KVM_EXIT_INTERNAL_ERROR` exits carry extra data words (`ndata`, `data`).
    public static let internalErrorData = KVMCapability(rawValue: 40)
    /// `KVM_CAP_VCPU_EVENTS`: `KVM_GET_VCPU_EVENTS` / `KVM_SET_VCPU_EVENTS`: pending exceptions, interrupts and NMIs
    /// (x86).
    public static let vcpuEvents = KVMCapability(rawValue: 41)
    /// `KVM_CAP_S390_PSW`: s390: the PSW is exposed in `kvm_run`.
    public static let s390Psw = KVMCapability(rawValue: 42)
    /// `KVM_CAP_PPC_SEGSTATE`: PowerPC Book3S: `KVM_GET_SREGS` / `KVM_SET_SREGS` include the segment state.
    public static let ppcSegstate = KVMCapability(rawValue: 43)
    /// `KVM_CAP_HYPERV`: Hyper-V enlightenments for guests (x86).
    public static let hyperv = KVMCapability(rawValue: 44)
    /// `KVM_CAP_HYPERV_VAPIC`: Hyper-V virtual APIC assist MSRs (x86).
    public static let hypervVapic = KVMCapability(rawValue: 45)
    /// `KVM_CAP_HYPERV_SPIN`: Hyper-V spinlock notifications (x86).
    public static let hypervSpin = KVMCapability(rawValue: 46)
    /// `KVM_CAP_PCI_SEGMENT`: legacy assigned devices may be in a PCI segment other than 0.
    public static let pciSegment = KVMCapability(rawValue: 47)
    /// `KVM_CAP_PPC_PAIRED_SINGLES`: PowerPC: emulation of the paired-single floating-point instructions of Gekko and
    /// Broadway.
    public static let ppcPairedSingles = KVMCapability(rawValue: 48)
    /// `KVM_CAP_INTR_SHADOW`: the interrupt shadow (after STI or MOV SS) is saved and restored with the vCPU events
    /// (x86).
    public static let intrShadow = KVMCapability(rawValue: 49)
    /// `KVM_CAP_DEBUGREGS`: `KVM_GET_DEBUGREGS` / `KVM_SET_DEBUGREGS`: DR0–DR3, DR6, DR7 (x86).
    public static let debugregs = KVMCapability(rawValue: 50)
    /// `KVM_CAP_X86_ROBUST_SINGLESTEP`: single-stepping with `KVM_SET_GUEST_DEBUG` also steps over emulated
    /// instructions and interrupts (x86).
    public static let x86RobustSinglestep = KVMCapability(rawValue: 51)
    /// `KVM_CAP_PPC_OSI`: PowerPC: OSI hypercalls (Mac-on-Linux) exit to user space as `KVM_EXIT_OSI`.
    public static let ppcOsi = KVMCapability(rawValue: 52)
    /// `KVM_CAP_PPC_UNSET_IRQ`: PowerPC: `KVM_INTERRUPT` can also lower an interrupt (`KVM_INTERRUPT_UNSET`).
    public static let ppcUnsetIrq = KVMCapability(rawValue: 53)
    /// `KVM_CAP_ENABLE_CAP`: `KVM_ENABLE_CAP` on vCPU descriptors.
    public static let enableCap = KVMCapability(rawValue: 54)
    /// `KVM_CAP_XSAVE`: `KVM_GET_XSAVE` / `KVM_SET_XSAVE`: the XSAVE area with the extended register state (x86).
    public static let xsave = KVMCapability(rawValue: 55)
    /// `KVM_CAP_XCRS`: `KVM_GET_XCRS` / `KVM_SET_XCRS`: the extended control registers such as XCR0 (x86).
    public static let xcrs = KVMCapability(rawValue: 56)
    /// `KVM_CAP_PPC_GET_PVINFO`: PowerPC: `KVM_PPC_GET_PVINFO` returns the instructions a guest uses for paravirtual
    /// hypercalls.
    public static let ppcGetPvinfo = KVMCapability(rawValue: 57)
    /// `KVM_CAP_PPC_IRQ_LEVEL`: PowerPC: level-triggered interrupts through `KVM_INTERRUPT`.
    public static let ppcIrqLevel = KVMCapability(rawValue: 58)
    /// `KVM_CAP_ASYNC_PF`: asynchronous page faults: a guest runs other tasks while the host faults a page in (x86).
    public static let asyncPf = KVMCapability(rawValue: 59)
    /// `KVM_CAP_TSC_CONTROL`: `KVM_SET_TSC_KHZ` on a vCPU may scale the guest TSC to a frequency other than the
    /// host's (x86).
    public static let tscControl = KVMCapability(rawValue: 60)
    /// `KVM_CAP_GET_TSC_KHZ`: `KVM_GET_TSC_KHZ`: a vCPU's TSC frequency (x86).
    public static let getTscKhz = KVMCapability(rawValue: 61)
    /// `KVM_CAP_PPC_BOOKE_SREGS`: PowerPC BookE: the special registers through `KVM_GET_SREGS` / `KVM_SET_SREGS`.
    public static let ppcBookeSregs = KVMCapability(rawValue: 62)
    /// `KVM_CAP_SPAPR_TCE`: PowerPC sPAPR: `KVM_CREATE_SPAPR_TCE`, an in-kernel TCE (IOMMU) table.
    public static let spaprTce = KVMCapability(rawValue: 63)
    /// `KVM_CAP_PPC_SMT`: PowerPC: the host's threads per core (the check value); enabled on a VM to set its virtual
    /// SMT mode.
    public static let ppcSmt = KVMCapability(rawValue: 64)
    /// `KVM_CAP_PPC_RMA`: PowerPC: `KVM_ALLOCATE_RMA`, a real-mode area for older POWER guests.
    public static let ppcRma = KVMCapability(rawValue: 65)
    /// `KVM_CAP_MAX_VCPUS`: the maximum number of vCPUs per VM (the check value).
    public static let maxVcpus = KVMCapability(rawValue: 66)
    /// `KVM_CAP_PPC_HIOR`: PowerPC: the HIOR register can be set.
    public static let ppcHior = KVMCapability(rawValue: 67)
    /// `KVM_CAP_PPC_PAPR`: PowerPC: a vCPU can be put in PAPR (sPAPR guest) mode.
    public static let ppcPapr = KVMCapability(rawValue: 68)
    /// `KVM_CAP_SW_TLB`: PowerPC BookE: a software-managed TLB shared with user space (`KVM_DIRTY_TLB`).
    public static let swTlb = KVMCapability(rawValue: 69)
    /// `KVM_CAP_ONE_REG`: `KVM_GET_ONE_REG` / `KVM_SET_ONE_REG`: single registers by id.
    public static let oneReg = KVMCapability(rawValue: 70)
    /// `KVM_CAP_S390_GMAP`: s390: guest memory may be anywhere in user memory, in segment-aligned (1 MiB) slots.
    public static let s390Gmap = KVMCapability(rawValue: 71)
    /// `KVM_CAP_TSC_DEADLINE_TIMER`: the local APIC's TSC-deadline timer mode can be offered to guests (x86,
    /// in-kernel LAPIC).
    public static let tscDeadlineTimer = KVMCapability(rawValue: 72)
    /// `KVM_CAP_S390_UCONTROL`: s390: user-controlled VMs (`KVM_VM_S390_UCONTROL`).
    public static let s390Ucontrol = KVMCapability(rawValue: 73)
    /// `KVM_CAP_SYNC_REGS`: register sets mirrored in `kvm_run` (`kvm_valid_regs`, `kvm_dirty_regs`); the check value
    /// is the mask of sets.
    public static let syncRegs = KVMCapability(rawValue: 74)
    /// `KVM_CAP_PCI_2_3`: legacy device assignment with PCI 2.3 INTx masking (removed from the kernel).
    public static let pci23 = KVMCapability(rawValue: 75)
    /// `KVM_CAP_KVMCLOCK_CTRL`: `KVM_KVMCLOCK_CTRL`: tells a paused guest's kvmclock that it was stopped, against
    /// soft-lockup reports (x86).
    public static let kvmclockCtrl = KVMCapability(rawValue: 76)
    /// `KVM_CAP_SIGNAL_MSI`: `KVM_SIGNAL_MSI`: inject a message-signalled interrupt directly.
    public static let signalMsi = KVMCapability(rawValue: 77)
    /// `KVM_CAP_PPC_GET_SMMU_INFO`: PowerPC: `KVM_PPC_GET_SMMU_INFO` describes the supported MMU page and segment
    /// sizes.
    public static let ppcGetSmmuInfo = KVMCapability(rawValue: 78)
    /// `KVM_CAP_S390_COW`: s390: guest memory may use copy-on-write and dirty tracking through read-only page tables.
    public static let s390Cow = KVMCapability(rawValue: 79)
    /// `KVM_CAP_PPC_ALLOC_HTAB`: PowerPC: `KVM_PPC_ALLOCATE_HTAB` allocates the guest's hashed page table.
    public static let ppcAllocHtab = KVMCapability(rawValue: 80)
    /// `KVM_CAP_READONLY_MEM`: `KVM_MEM_READONLY`: read-only memory slots; guest writes to them exit as MMIO.
    public static let readonlyMem = KVMCapability(rawValue: 81)
    /// `KVM_CAP_IRQFD_RESAMPLE`: `KVM_IRQFD` with a resample eventfd, for level-triggered interrupts.
    public static let irqfdResample = KVMCapability(rawValue: 82)
    /// `KVM_CAP_PPC_BOOKE_WATCHDOG`: PowerPC BookE: watchdog timer emulation.
    public static let ppcBookeWatchdog = KVMCapability(rawValue: 83)
    /// `KVM_CAP_PPC_HTAB_FD`: PowerPC: `KVM_PPC_GET_HTAB_FD` reads and writes the hashed page table (for migration).
    public static let ppcHtabFd = KVMCapability(rawValue: 84)
    /// `KVM_CAP_S390_CSS_SUPPORT`: s390: channel-subsystem instructions exit to user space.
    public static let s390CssSupport = KVMCapability(rawValue: 85)
    /// `KVM_CAP_PPC_EPR`: PowerPC: external proxy register exits (`KVM_EXIT_EPR`).
    public static let ppcEpr = KVMCapability(rawValue: 86)
    /// `KVM_CAP_ARM_PSCI`: Arm: PSCI (power state coordination interface) emulation.
    public static let armPsci = KVMCapability(rawValue: 87)
    /// `KVM_CAP_ARM_SET_DEVICE_ADDR`: Arm: `KVM_ARM_SET_DEVICE_ADDR` places in-kernel devices such as the VGIC.
    public static let armSetDeviceAddr = KVMCapability(rawValue: 88)
    /// `KVM_CAP_DEVICE_CTRL`: `KVM_CREATE_DEVICE` and the device attribute ioctls.
    public static let deviceCtrl = KVMCapability(rawValue: 89)
    /// `KVM_CAP_IRQ_MPIC`: PowerPC: a vCPU can be connected to an in-kernel MPIC.
    public static let irqMpic = KVMCapability(rawValue: 90)
    /// `KVM_CAP_PPC_RTAS`: PowerPC: RTAS calls handled in the kernel (`KVM_PPC_RTAS_DEFINE_TOKEN`).
    public static let ppcRtas = KVMCapability(rawValue: 91)
    /// `KVM_CAP_IRQ_XICS`: PowerPC: a vCPU can be connected to an in-kernel XICS interrupt controller.
    public static let irqXics = KVMCapability(rawValue: 92)
    /// `KVM_CAP_ARM_EL1_32BIT`: Arm64: vCPUs can run EL1 in AArch32 state.
    public static let armEl132bit = KVMCapability(rawValue: 93)
    /// `KVM_CAP_SPAPR_MULTITCE`: PowerPC sPAPR: the H_PUT_TCE_INDIRECT and H_STUFF_TCE hypercalls in the kernel.
    public static let spaprMultitce = KVMCapability(rawValue: 94)
    /// `KVM_CAP_EXT_EMUL_CPUID`: `KVM_GET_EMULATED_CPUID`: CPUID features KVM emulates in software (x86).
    public static let extEmulCpuid = KVMCapability(rawValue: 95)
    /// `KVM_CAP_HYPERV_TIME`: Hyper-V reference time counter and TSC page (x86).
    public static let hypervTime = KVMCapability(rawValue: 96)
    /// `KVM_CAP_IOAPIC_POLARITY_IGNORED`: the in-kernel IOAPIC ignores the pin polarity, so `KVM_IRQ_LINE` levels are
    /// logical (x86).
    public static let ioapicPolarityIgnored = KVMCapability(rawValue: 97)
    /// `KVM_CAP_ENABLE_CAP_VM`: `KVM_ENABLE_CAP` on VM descriptors.
    public static let enableCapVm = KVMCapability(rawValue: 98)
    /// `KVM_CAP_S390_IRQCHIP`: s390: the in-kernel interrupt controller (FLIC) with irqfds and routing.
    public static let s390Irqchip = KVMCapability(rawValue: 99)
    /// `KVM_CAP_IOEVENTFD_NO_LENGTH`: ioeventfds of length 0 that match writes of any size.
    public static let ioeventfdNoLength = KVMCapability(rawValue: 100)
    /// `KVM_CAP_VM_ATTRIBUTES`: `KVM_HAS_DEVICE_ATTR`, `KVM_GET_DEVICE_ATTR` and `KVM_SET_DEVICE_ATTR` on the VM
    /// descriptor.
    public static let vmAttributes = KVMCapability(rawValue: 101)
    /// `KVM_CAP_ARM_PSCI_0_2`: Arm: PSCI 0.2.
    public static let armPsci02 = KVMCapability(rawValue: 102)
    /// `KVM_CAP_PPC_FIXUP_HCALL`: PowerPC: unhandled hypercalls exit to user space instead of failing in the guest.
    public static let ppcFixupHcall = KVMCapability(rawValue: 103)
    /// `KVM_CAP_PPC_ENABLE_HCALL`: PowerPC: `KVM_ENABLE_CAP` chooses which sPAPR hypercalls the kernel handles.
    public static let ppcEnableHcall = KVMCapability(rawValue: 104)
    /// `KVM_CAP_CHECK_EXTENSION_VM`: `KVM_CHECK_EXTENSION` on a VM descriptor answers for that VM.
    public static let checkExtensionVm = KVMCapability(rawValue: 105)
    /// `KVM_CAP_S390_USER_SIGP`: s390: all SIGP orders but the fast ones are handled in user space.
    public static let s390UserSigp = KVMCapability(rawValue: 106)
    /// `KVM_CAP_S390_VECTOR_REGISTERS`: s390: the vector registers of z13 and later.
    public static let s390VectorRegisters = KVMCapability(rawValue: 107)
    /// `KVM_CAP_S390_MEM_OP`: s390: `KVM_S390_MEM_OP` reads and writes guest logical memory.
    public static let s390MemOp = KVMCapability(rawValue: 108)
    /// `KVM_CAP_S390_USER_STSI`: s390: STSI results can be completed in user space (`KVM_EXIT_S390_STSI`).
    public static let s390UserStsi = KVMCapability(rawValue: 109)
    /// `KVM_CAP_S390_SKEYS`: s390: `KVM_S390_GET_SKEYS` / `KVM_S390_SET_SKEYS`: the guest's storage keys.
    public static let s390Skeys = KVMCapability(rawValue: 110)
    /// `KVM_CAP_MIPS_FPU`: MIPS: guests can use the FPU.
    public static let mipsFpu = KVMCapability(rawValue: 111)
    /// `KVM_CAP_MIPS_MSA`: MIPS: guests can use the MIPS SIMD Architecture (MSA).
    public static let mipsMsa = KVMCapability(rawValue: 112)
    /// `KVM_CAP_S390_INJECT_IRQ`: s390: `KVM_S390_IRQ` injects an interrupt into a vCPU.
    public static let s390InjectIrq = KVMCapability(rawValue: 113)
    /// `KVM_CAP_S390_IRQ_STATE`: s390: `KVM_S390_GET_IRQ_STATE` / `KVM_S390_SET_IRQ_STATE`: a vCPU's pending
    /// interrupts.
    public static let s390IrqState = KVMCapability(rawValue: 114)
    /// `KVM_CAP_PPC_HWRNG`: PowerPC: an in-kernel H_RANDOM hypercall backed by a hardware random number generator.
    public static let ppcHwrng = KVMCapability(rawValue: 115)
    /// `KVM_CAP_DISABLE_QUIRKS`: `KVM_ENABLE_CAP` turns off some of KVM's compatibility quirks (x86; see
    /// `KVM_CAP_DISABLE_QUIRKS2`).
    public static let disableQuirks = KVMCapability(rawValue: 116)
    /// `KVM_CAP_X86_SMM`: system management mode: `KVM_SMI` and SMM state in the vCPU events (x86).
    public static let x86Smm = KVMCapability(rawValue: 117)
    /// `KVM_CAP_MULTI_ADDRESS_SPACE`: several memory address spaces (the check value, 2 on x86 for SMM), selected by
    /// bits 16–31 of a slot number.
    public static let multiAddressSpace = KVMCapability(rawValue: 118)
    /// `KVM_CAP_GUEST_DEBUG_HW_BPS`: the number of hardware breakpoints `KVM_SET_GUEST_DEBUG` can use (the check
    /// value).
    public static let guestDebugHwBps = KVMCapability(rawValue: 119)
    /// `KVM_CAP_GUEST_DEBUG_HW_WPS`: the number of hardware watchpoints `KVM_SET_GUEST_DEBUG` can use (the check
    /// value).
    public static let guestDebugHwWps = KVMCapability(rawValue: 120)
    /// `KVM_CAP_SPLIT_IRQCHIP`: local APICs in the kernel, PIC and IOAPIC in user space; enabled with the number of
    /// IOAPIC routes (x86).
    public static let splitIrqchip = KVMCapability(rawValue: 121)
    /// `KVM_CAP_IOEVENTFD_ANY_LENGTH`: ioeventfds of length 0 that match accesses of any length.
    public static let ioeventfdAnyLength = KVMCapability(rawValue: 122)
    /// `KVM_CAP_HYPERV_SYNIC`: the Hyper-V synthetic interrupt controller, enabled per vCPU (x86).
    public static let hypervSynic = KVMCapability(rawValue: 123)
    /// `KVM_CAP_S390_RI`: s390: runtime instrumentation.
    public static let s390Ri = KVMCapability(rawValue: 124)
    /// `KVM_CAP_SPAPR_TCE_64`: PowerPC sPAPR: 64-bit TCE tables (`KVM_CREATE_SPAPR_TCE_64`).
    public static let spaprTce64 = KVMCapability(rawValue: 125)
    /// `KVM_CAP_ARM_PMU_V3`: Arm64: a virtual PMUv3 for vCPUs.
    public static let armPmuV3 = KVMCapability(rawValue: 126)
    /// `KVM_CAP_VCPU_ATTRIBUTES`: `KVM_HAS_DEVICE_ATTR`, `KVM_GET_DEVICE_ATTR` and `KVM_SET_DEVICE_ATTR` on vCPU
    /// descriptors.
    public static let vcpuAttributes = KVMCapability(rawValue: 127)
    /// `KVM_CAP_MAX_VCPU_ID`: the bound on vCPU ids (the check value): `KVM_CREATE_VCPU` accepts ids below it.
    public static let maxVcpuId = KVMCapability(rawValue: 128)
    /// `KVM_CAP_X2APIC_API`: 32-bit APIC ids in routes, MSIs and the LAPIC state, and control of the x2APIC broadcast
    /// quirk (x86).
    public static let x2apicApi = KVMCapability(rawValue: 129)
    /// `KVM_CAP_S390_USER_INSTR0`: s390: the illegal instruction 0x0000 exits to user space (for software
    /// breakpoints).
    public static let s390UserInstr0 = KVMCapability(rawValue: 130)
    /// `KVM_CAP_MSI_DEVID`: MSIs and MSI routes carry a device id (`KVM_MSI_VALID_DEVID`), as the Arm GICv3 ITS
    /// needs.
    public static let msiDevid = KVMCapability(rawValue: 131)
    /// `KVM_CAP_PPC_HTM`: PowerPC: hardware transactional memory for guests.
    public static let ppcHtm = KVMCapability(rawValue: 132)
    /// `KVM_CAP_SPAPR_RESIZE_HPT`: PowerPC sPAPR: the guest's hashed page table can be resized.
    public static let spaprResizeHpt = KVMCapability(rawValue: 133)
    /// `KVM_CAP_PPC_MMU_RADIX`: PowerPC: guests can use the POWER9 radix MMU.
    public static let ppcMmuRadix = KVMCapability(rawValue: 134)
    /// `KVM_CAP_PPC_MMU_HASH_V3`: PowerPC: guests can use the ISA v3.00 hashed page table MMU.
    public static let ppcMmuHashV3 = KVMCapability(rawValue: 135)
    /// `KVM_CAP_IMMEDIATE_EXIT`: `kvm_run.immediate_exit`: while it is set, `KVM_RUN` returns `EINTR` without
    /// entering the guest.
    public static let immediateExit = KVMCapability(rawValue: 136)
    /// `KVM_CAP_MIPS_VZ`: MIPS: hardware-assisted virtualization (the VZ ASE).
    public static let mipsVz = KVMCapability(rawValue: 137)
    /// `KVM_CAP_MIPS_TE`: MIPS: trap-and-emulate virtualization.
    public static let mipsTe = KVMCapability(rawValue: 138)
    /// `KVM_CAP_MIPS_64BIT`: MIPS: the guest's register and address width (the check value).
    public static let mips64bit = KVMCapability(rawValue: 139)
    /// `KVM_CAP_S390_GS`: s390: guarded storage.
    public static let s390Gs = KVMCapability(rawValue: 140)
    /// `KVM_CAP_S390_AIS`: s390: adapter-interruption suppression.
    public static let s390Ais = KVMCapability(rawValue: 141)
    /// `KVM_CAP_SPAPR_TCE_VFIO`: PowerPC sPAPR: TCE tables of VFIO groups handled in the kernel.
    public static let spaprTceVfio = KVMCapability(rawValue: 142)
    /// `KVM_CAP_X86_DISABLE_EXITS`: stop intercepting MWAIT, HLT, PAUSE or C-state changes; the check value lists
    /// which (x86).
    public static let x86DisableExits = KVMCapability(rawValue: 143)
    /// `KVM_CAP_ARM_USER_IRQ`: Arm: without an in-kernel interrupt controller, the levels of in-kernel timers and PMU
    /// are reported to user space.
    public static let armUserIrq = KVMCapability(rawValue: 144)
    /// `KVM_CAP_S390_CMMA_MIGRATION`: s390: migration of the collaborative memory management attributes.
    public static let s390CmmaMigration = KVMCapability(rawValue: 145)
    /// `KVM_CAP_PPC_FWNMI`: PowerPC: a guest machine check exits to user space as an NMI exit (firmware-assisted
    /// NMI).
    public static let ppcFwnmi = KVMCapability(rawValue: 146)
    /// `KVM_CAP_PPC_SMT_POSSIBLE`: PowerPC: a bit mask of the virtual SMT modes `KVM_CAP_PPC_SMT` can set.
    public static let ppcSmtPossible = KVMCapability(rawValue: 147)
    /// `KVM_CAP_HYPERV_SYNIC2`: Hyper-V SynIC that leaves the message and event pages alone when they are enabled
    /// (x86).
    public static let hypervSynic2 = KVMCapability(rawValue: 148)
    /// `KVM_CAP_HYPERV_VP_INDEX`: user space can set the Hyper-V VP index MSR (x86).
    public static let hypervVpIndex = KVMCapability(rawValue: 149)
    /// `KVM_CAP_S390_AIS_MIGRATION`: s390: the FLIC device can save and restore the adapter-interruption suppression
    /// state.
    public static let s390AisMigration = KVMCapability(rawValue: 150)
    /// `KVM_CAP_PPC_GET_CPU_CHAR`: PowerPC: `KVM_PPC_GET_CPU_CHAR` reports the host's speculation-mitigation
    /// characteristics.
    public static let ppcGetCpuChar = KVMCapability(rawValue: 151)
    /// `KVM_CAP_S390_BPB`: s390: branch-prediction blocking is handled across reset, migration and nesting.
    public static let s390Bpb = KVMCapability(rawValue: 152)
    /// `KVM_CAP_GET_MSR_FEATURES`: feature MSRs: `KVM_GET_MSR_FEATURE_INDEX_LIST` and `KVM_GET_MSRS` on the system
    /// descriptor (x86).
    public static let getMsrFeatures = KVMCapability(rawValue: 153)
    /// `KVM_CAP_HYPERV_EVENTFD`: `KVM_HYPERV_EVENTFD`: Hyper-V SIGNAL_EVENT hypercalls signal an eventfd (x86).
    public static let hypervEventfd = KVMCapability(rawValue: 154)
    /// `KVM_CAP_HYPERV_TLBFLUSH`: paravirtual Hyper-V TLB flush hypercalls (x86).
    public static let hypervTlbflush = KVMCapability(rawValue: 155)
    /// `KVM_CAP_S390_HPAGE_1M`: s390: guest memory backed by 1 MiB huge pages.
    public static let s390Hpage1m = KVMCapability(rawValue: 156)
    /// `KVM_CAP_NESTED_STATE`: `KVM_GET_NESTED_STATE` / `KVM_SET_NESTED_STATE`: nested virtualization state; the
    /// check value is its maximum size (x86).
    public static let nestedState = KVMCapability(rawValue: 157)
    /// `KVM_CAP_ARM_INJECT_SERROR_ESR`: Arm64: user space chooses the syndrome of an injected SError.
    public static let armInjectSerrorEsr = KVMCapability(rawValue: 158)
    /// `KVM_CAP_MSR_PLATFORM_INFO`: the guest may read `MSR_PLATFORM_INFO`; enabled per VM (x86).
    public static let msrPlatformInfo = KVMCapability(rawValue: 159)
    /// `KVM_CAP_PPC_NESTED_HV`: PowerPC: nested HV virtualization (a guest runs guests of its own).
    public static let ppcNestedHv = KVMCapability(rawValue: 160)
    /// `KVM_CAP_HYPERV_SEND_IPI`: paravirtual Hyper-V IPI hypercalls (x86).
    public static let hypervSendIpi = KVMCapability(rawValue: 161)
    /// `KVM_CAP_COALESCED_PIO`: coalescing for port-I/O zones too (`KVM_REGISTER_COALESCED_MMIO` with the PIO flag).
    public static let coalescedPio = KVMCapability(rawValue: 162)
    /// `KVM_CAP_HYPERV_ENLIGHTENED_VMCS`: Hyper-V enlightened VMCS for nested guests, enabled per vCPU (x86).
    public static let hypervEnlightenedVmcs = KVMCapability(rawValue: 163)
    /// `KVM_CAP_EXCEPTION_PAYLOAD`: exception payloads (CR2, DR6) and pending exceptions in the vCPU events, for
    /// nested guests (x86).
    public static let exceptionPayload = KVMCapability(rawValue: 164)
    /// `KVM_CAP_ARM_VM_IPA_SIZE`: Arm64: the largest guest physical address size in bits that `KVM_CREATE_VM` can ask
    /// for.
    public static let armVmIpaSize = KVMCapability(rawValue: 165)
    /// `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT`: the first, buggy form of manual dirty-log protection; use
    /// `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2`.
    public static let manualDirtyLogProtect = KVMCapability(rawValue: 166)
    /// `KVM_CAP_HYPERV_CPUID`: `KVM_GET_SUPPORTED_HV_CPUID` on a vCPU: the Hyper-V CPUID leaves (x86).
    public static let hypervCpuid = KVMCapability(rawValue: 167)
    /// `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2`: `KVM_GET_DIRTY_LOG` no longer clears the log, `KVM_CLEAR_DIRTY_LOG`
    /// re-protects pages; the check value lists the flags.
    public static let manualDirtyLogProtect2 = KVMCapability(rawValue: 168)
    /// `KVM_CAP_PPC_IRQ_XIVE`: PowerPC: a vCPU can be connected to an in-kernel XIVE interrupt controller.
    public static let ppcIrqXive = KVMCapability(rawValue: 169)
    /// `KVM_CAP_ARM_SVE`: Arm64: the scalable vector extension for guests.
    public static let armSve = KVMCapability(rawValue: 170)
    /// `KVM_CAP_ARM_PTRAUTH_ADDRESS`: Arm64: address pointer authentication for guests.
    public static let armPtrauthAddress = KVMCapability(rawValue: 171)
    /// `KVM_CAP_ARM_PTRAUTH_GENERIC`: Arm64: generic pointer authentication for guests.
    public static let armPtrauthGeneric = KVMCapability(rawValue: 172)
    /// `KVM_CAP_PMU_EVENT_FILTER`: `KVM_SET_PMU_EVENT_FILTER`: restricts the PMU events a guest can program (x86).
    public static let pmuEventFilter = KVMCapability(rawValue: 173)
    /// `KVM_CAP_ARM_IRQ_LINE_LAYOUT_2`: Arm: `KVM_IRQ_LINE` can address vCPU indices above 255.
    public static let armIrqLineLayout2 = KVMCapability(rawValue: 174)
    /// `KVM_CAP_HYPERV_DIRECT_TLBFLUSH`: KVM running on Hyper-V lets Hyper-V handle its guests' TLB flush hypercalls
    /// (x86).
    public static let hypervDirectTlbflush = KVMCapability(rawValue: 175)
    /// `KVM_CAP_PPC_GUEST_DEBUG_SSTEP`: PowerPC: single-stepping through `KVM_SET_GUEST_DEBUG`.
    public static let ppcGuestDebugSstep = KVMCapability(rawValue: 176)
    /// `KVM_CAP_ARM_NISV_TO_USER`: Arm: data aborts without valid syndrome exit to user space (`KVM_EXIT_ARM_NISV`).
    public static let armNisvToUser = KVMCapability(rawValue: 177)
    /// `KVM_CAP_ARM_INJECT_EXT_DABT`: Arm: user space can inject an external data abort.
    public static let armInjectExtDabt = KVMCapability(rawValue: 178)
    /// `KVM_CAP_S390_VCPU_RESETS`: s390: `KVM_S390_NORMAL_RESET` and `KVM_S390_CLEAR_RESET`.
    public static let s390VcpuResets = KVMCapability(rawValue: 179)
    /// `KVM_CAP_S390_PROTECTED`: s390: protected (Ultravisor-secured) VMs.
    public static let s390Protected = KVMCapability(rawValue: 180)
    /// `KVM_CAP_PPC_SECURE_GUEST`: PowerPC: the host's ultravisor can run secure guests.
    public static let ppcSecureGuest = KVMCapability(rawValue: 181)
    /// `KVM_CAP_HALT_POLL`: a per-VM maximum halt-polling time, overriding the `halt_poll_ns` module parameter.
    public static let haltPoll = KVMCapability(rawValue: 182)
    /// `KVM_CAP_ASYNC_PF_INT`: asynchronous page-fault "page ready" notifications delivered as an interrupt (x86).
    public static let asyncPfInt = KVMCapability(rawValue: 183)
    /// `KVM_CAP_LAST_CPU`: `KVM_EXIT_FAIL_ENTRY` reports the host CPU the vCPU last ran on.
    public static let lastCpu = KVMCapability(rawValue: 184)
    /// `KVM_CAP_SMALLER_MAXPHYADDR`: guests may have a smaller physical address width than the host (x86).
    public static let smallerMaxphyaddr = KVMCapability(rawValue: 185)
    /// `KVM_CAP_S390_DIAG318`: s390: the control-program information of DIAGNOSE 0x318.
    public static let s390Diag318 = KVMCapability(rawValue: 186)
    /// `KVM_CAP_STEAL_TIME`: steal-time accounting for guests.
    public static let stealTime = KVMCapability(rawValue: 187)
    /// `KVM_CAP_X86_USER_SPACE_MSR`: RDMSR and WRMSR that would raise #GP exit to user space instead
    /// (`KVM_EXIT_X86_RDMSR`, `_WRMSR`).
    public static let x86UserSpaceMsr = KVMCapability(rawValue: 188)
    /// `KVM_CAP_X86_MSR_FILTER`: `KVM_X86_SET_MSR_FILTER`: bitmaps of MSRs whose guest accesses are refused (x86).
    public static let x86MsrFilter = KVMCapability(rawValue: 189)
    /// `KVM_CAP_ENFORCE_PV_FEATURE_CPUID`: paravirtual features not exposed in CPUID leaf 0x40000001 are refused;
    /// enabled per vCPU (x86).
    public static let enforcePvFeatureCpuid = KVMCapability(rawValue: 190)
    /// `KVM_CAP_SYS_HYPERV_CPUID`: `KVM_GET_SUPPORTED_HV_CPUID` on the system descriptor (x86).
    public static let sysHypervCpuid = KVMCapability(rawValue: 191)
    /// `KVM_CAP_DIRTY_LOG_RING`: per-vCPU dirty rings; the check value is the largest ring size in bytes.
    public static let dirtyLogRing = KVMCapability(rawValue: 192)
    /// `KVM_CAP_X86_BUS_LOCK_EXIT`: exits on guest bus locks (split locks), `KVM_EXIT_X86_BUS_LOCK`; enabled with a
    /// mode.
    public static let x86BusLockExit = KVMCapability(rawValue: 193)
    /// `KVM_CAP_PPC_DAWR1`: PowerPC: a second data address watchpoint register.
    public static let ppcDawr1 = KVMCapability(rawValue: 194)
    /// `KVM_CAP_SET_GUEST_DEBUG2`: the check value is the mask of `KVM_SET_GUEST_DEBUG` control flags the host
    /// supports.
    public static let setGuestDebug2 = KVMCapability(rawValue: 195)
    /// `KVM_CAP_SGX_ATTRIBUTE`: SGX enclave attributes such as the provisioning key can be allowed for a VM (x86).
    public static let sgxAttribute = KVMCapability(rawValue: 196)
    /// `KVM_CAP_VM_COPY_ENC_CONTEXT_FROM`: copy another VM's SEV encryption context into this one, for a mirror VM
    /// (x86).
    public static let vmCopyEncContextFrom = KVMCapability(rawValue: 197)
    /// `KVM_CAP_PTP_KVM`: Arm64: the PTP_KVM hypercall, for guest–host clock synchronisation.
    public static let ptpKvm = KVMCapability(rawValue: 198)
    /// `KVM_CAP_HYPERV_ENFORCE_CPUID`: Hyper-V features not exposed in the guest's CPUID are refused; enabled per
    /// vCPU (x86).
    public static let hypervEnforceCpuid = KVMCapability(rawValue: 199)
    /// `KVM_CAP_SREGS2`: `KVM_GET_SREGS2` / `KVM_SET_SREGS2`: special registers with the PAE PDPTRs (x86).
    public static let sregs2 = KVMCapability(rawValue: 200)
    /// `KVM_CAP_EXIT_HYPERCALL`: hypercalls in the check value's mask can exit to user space as `KVM_EXIT_HYPERCALL`
    /// (x86).
    public static let exitHypercall = KVMCapability(rawValue: 201)
    /// `KVM_CAP_PPC_RPT_INVALIDATE`: PowerPC: the H_RPT_INVALIDATE hypercall (radix page-table invalidation).
    public static let ppcRptInvalidate = KVMCapability(rawValue: 202)
    /// `KVM_CAP_BINARY_STATS_FD`: `KVM_GET_STATS_FD`: binary statistics of a VM or vCPU.
    public static let binaryStatsFd = KVMCapability(rawValue: 203)
    /// `KVM_CAP_EXIT_ON_EMULATION_FAILURE`: emulation failures exit with the instruction bytes in the internal-error
    /// data (x86).
    public static let exitOnEmulationFailure = KVMCapability(rawValue: 204)
    /// `KVM_CAP_ARM_MTE`: Arm64: the memory tagging extension for guests.
    public static let armMte = KVMCapability(rawValue: 205)
    /// `KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM`: move another VM's SEV encryption context into this one, for migration
    /// within a host (x86).
    public static let vmMoveEncContextFrom = KVMCapability(rawValue: 206)
    /// `KVM_CAP_VM_GPA_BITS`: the guest physical address width in bits (RISC-V).
    public static let vmGpaBits = KVMCapability(rawValue: 207)
    /// `KVM_CAP_XSAVE2`: `KVM_GET_XSAVE2`; the check value is the size of the XSAVE area in bytes (x86).
    public static let xsave2 = KVMCapability(rawValue: 208)
    /// `KVM_CAP_SYS_ATTRIBUTES`: `KVM_HAS_DEVICE_ATTR`, `KVM_GET_DEVICE_ATTR` and `KVM_SET_DEVICE_ATTR` on the system
    /// descriptor.
    public static let sysAttributes = KVMCapability(rawValue: 209)
    /// `KVM_CAP_PPC_AIL_MODE_3`: PowerPC: guests can use alternate interrupt location mode 3.
    public static let ppcAilMode3 = KVMCapability(rawValue: 210)
    /// `KVM_CAP_S390_MEM_OP_EXTENSION`: s390: extensions of `KVM_S390_MEM_OP` (storage-key checking).
    public static let s390MemOpExtension = KVMCapability(rawValue: 211)
    /// `KVM_CAP_PMU_CAPABILITY`: turns off the virtual PMU of a VM, before its vCPUs are created (x86).
    public static let pmuCapability = KVMCapability(rawValue: 212)
    /// `KVM_CAP_DISABLE_QUIRKS2`: the check value lists the quirks `KVM_ENABLE_CAP` can turn off (x86).
    public static let disableQuirks2 = KVMCapability(rawValue: 213)
    /// `KVM_CAP_VM_TSC_CONTROL`: `KVM_SET_TSC_KHZ` on the VM: the TSC frequency of vCPUs created afterwards (x86).
    public static let vmTscControl = KVMCapability(rawValue: 214)
    /// `KVM_CAP_SYSTEM_EVENT_DATA`: `KVM_EXIT_SYSTEM_EVENT` exits carry data words (`ndata`, `data`).
    public static let systemEventData = KVMCapability(rawValue: 215)
    /// `KVM_CAP_ARM_SYSTEM_SUSPEND`: Arm64: a guest's PSCI SYSTEM_SUSPEND exits to user space as a system event.
    public static let armSystemSuspend = KVMCapability(rawValue: 216)
    /// `KVM_CAP_S390_PROTECTED_DUMP`: s390: dumps of protected VMs.
    public static let s390ProtectedDump = KVMCapability(rawValue: 217)
    /// `KVM_CAP_X86_TRIPLE_FAULT_EVENT`: a pending triple fault in the vCPU events (x86).
    public static let x86TripleFaultEvent = KVMCapability(rawValue: 218)
    /// `KVM_CAP_X86_NOTIFY_VMEXIT`: `KVM_EXIT_NOTIFY` when a guest stays in a non-interruptible window too long
    /// (x86).
    public static let x86NotifyVmexit = KVMCapability(rawValue: 219)
    /// `KVM_CAP_VM_DISABLE_NX_HUGE_PAGES`: turns off the NX huge-page mitigation for a VM (x86).
    public static let vmDisableNxHugePages = KVMCapability(rawValue: 220)
    /// `KVM_CAP_S390_ZPCI_OP`: s390: `KVM_S390_ZPCI_OP`, interpretation of zPCI instructions.
    public static let s390ZpciOp = KVMCapability(rawValue: 221)
    /// `KVM_CAP_S390_CPU_TOPOLOGY`: s390: CPU topology for guests.
    public static let s390CpuTopology = KVMCapability(rawValue: 222)
    /// `KVM_CAP_DIRTY_LOG_RING_ACQ_REL`: dirty rings with acquire/release ordering (for weakly ordered hosts); the
    /// check value is the largest ring size.
    public static let dirtyLogRingAcqRel = KVMCapability(rawValue: 223)

    static let names: [Int32: String] = [
        0: "IRQCHIP", 1: "HLT", 2: "MMU_SHADOW_CACHE_CONTROL", 3: "USER_MEMORY",
        4: "SET_TSS_ADDR", 6: "VAPIC", 7: "EXT_CPUID", 8: "CLOCKSOURCE", 9: "NR_VCPUS",
        10: "NR_MEMSLOTS", 11: "PIT", 12: "NOP_IO_DELAY", 13: "PV_MMU", 14: "MP_STATE",
        15: "COALESCED_MMIO", 16: "SYNC_MMU", 18: "IOMMU", 21: "DESTROY_MEMORY_REGION_WORKS",
        22: "USER_NMI", 23: "SET_GUEST_DEBUG", 24: "REINJECT_CONTROL", 25: "IRQ_ROUTING",
        26: "IRQ_INJECT_STATUS", 29: "ASSIGN_DEV_IRQ", 30: "JOIN_MEMORY_REGIONS_WORKS",
        31: "MCE", 32: "IRQFD", 33: "PIT2", 34: "SET_BOOT_CPU_ID", 35: "PIT_STATE2",
        36: "IOEVENTFD", 37: "SET_IDENTITY_MAP_ADDR", 38: "XEN_HVM", 39: "ADJUST_CLOCK",
        40: "INTERNAL_ERROR_DATA", 41: "VCPU_EVENTS", 42: "S390_PSW", 43: "PPC_SEGSTATE",
        44: "HYPERV", 45: "HYPERV_VAPIC", 46: "HYPERV_SPIN", 47: "PCI_SEGMENT",
        48: "PPC_PAIRED_SINGLES", 49: "INTR_SHADOW", 50: "DEBUGREGS",
        51: "X86_ROBUST_SINGLESTEP", 52: "PPC_OSI", 53: "PPC_UNSET_IRQ", 54: "ENABLE_CAP",
        55: "XSAVE", 56: "XCRS", 57: "PPC_GET_PVINFO", 58: "PPC_IRQ_LEVEL", 59: "ASYNC_PF",
        60: "TSC_CONTROL", 61: "GET_TSC_KHZ", 62: "PPC_BOOKE_SREGS", 63: "SPAPR_TCE",
        64: "PPC_SMT", 65: "PPC_RMA", 66: "MAX_VCPUS", 67: "PPC_HIOR", 68: "PPC_PAPR",
        69: "SW_TLB", 70: "ONE_REG", 71: "S390_GMAP", 72: "TSC_DEADLINE_TIMER",
        73: "S390_UCONTROL", 74: "SYNC_REGS", 75: "PCI_2_3", 76: "KVMCLOCK_CTRL",
        77: "SIGNAL_MSI", 78: "PPC_GET_SMMU_INFO", 79: "S390_COW", 80: "PPC_ALLOC_HTAB",
        81: "READONLY_MEM", 82: "IRQFD_RESAMPLE", 83: "PPC_BOOKE_WATCHDOG", 84: "PPC_HTAB_FD",
        85: "S390_CSS_SUPPORT", 86: "PPC_EPR", 87: "ARM_PSCI", 88: "ARM_SET_DEVICE_ADDR",
        89: "DEVICE_CTRL", 90: "IRQ_MPIC", 91: "PPC_RTAS", 92: "IRQ_XICS", 93: "ARM_EL1_32BIT",
        94: "SPAPR_MULTITCE", 95: "EXT_EMUL_CPUID", 96: "HYPERV_TIME",
        97: "IOAPIC_POLARITY_IGNORED", 98: "ENABLE_CAP_VM", 99: "S390_IRQCHIP",
        100: "IOEVENTFD_NO_LENGTH", 101: "VM_ATTRIBUTES", 102: "ARM_PSCI_0_2",
        103: "PPC_FIXUP_HCALL", 104: "PPC_ENABLE_HCALL", 105: "CHECK_EXTENSION_VM",
        106: "S390_USER_SIGP", 107: "S390_VECTOR_REGISTERS", 108: "S390_MEM_OP",
        109: "S390_USER_STSI", 110: "S390_SKEYS", 111: "MIPS_FPU", 112: "MIPS_MSA",
        113: "S390_INJECT_IRQ", 114: "S390_IRQ_STATE", 115: "PPC_HWRNG", 116: "DISABLE_QUIRKS",
        117: "X86_SMM", 118: "MULTI_ADDRESS_SPACE", 119: "GUEST_DEBUG_HW_BPS",
        120: "GUEST_DEBUG_HW_WPS", 121: "SPLIT_IRQCHIP", 122: "IOEVENTFD_ANY_LENGTH",
        123: "HYPERV_SYNIC", 124: "S390_RI", 125: "SPAPR_TCE_64", 126: "ARM_PMU_V3",
        127: "VCPU_ATTRIBUTES", 128: "MAX_VCPU_ID", 129: "X2APIC_API", 130: "S390_USER_INSTR0",
        131: "MSI_DEVID", 132: "PPC_HTM", 133: "SPAPR_RESIZE_HPT", 134: "PPC_MMU_RADIX",
        135: "PPC_MMU_HASH_V3", 136: "IMMEDIATE_EXIT", 137: "MIPS_VZ", 138: "MIPS_TE",
        139: "MIPS_64BIT", 140: "S390_GS", 141: "S390_AIS", 142: "SPAPR_TCE_VFIO",
        143: "X86_DISABLE_EXITS", 144: "ARM_USER_IRQ", 145: "S390_CMMA_MIGRATION",
        146: "PPC_FWNMI", 147: "PPC_SMT_POSSIBLE", 148: "HYPERV_SYNIC2", 149: "HYPERV_VP_INDEX",
        150: "S390_AIS_MIGRATION", 151: "PPC_GET_CPU_CHAR", 152: "S390_BPB",
        153: "GET_MSR_FEATURES", 154: "HYPERV_EVENTFD", 155: "HYPERV_TLBFLUSH",
        156: "S390_HPAGE_1M", 157: "NESTED_STATE", 158: "ARM_INJECT_SERROR_ESR",
        159: "MSR_PLATFORM_INFO", 160: "PPC_NESTED_HV", 161: "HYPERV_SEND_IPI",
        162: "COALESCED_PIO", 163: "HYPERV_ENLIGHTENED_VMCS", 164: "EXCEPTION_PAYLOAD",
        165: "ARM_VM_IPA_SIZE", 166: "MANUAL_DIRTY_LOG_PROTECT", 167: "HYPERV_CPUID",
        168: "MANUAL_DIRTY_LOG_PROTECT2", 169: "PPC_IRQ_XIVE", 170: "ARM_SVE",
        171: "ARM_PTRAUTH_ADDRESS", 172: "ARM_PTRAUTH_GENERIC", 173: "PMU_EVENT_FILTER",
        174: "ARM_IRQ_LINE_LAYOUT_2", 175: "HYPERV_DIRECT_TLBFLUSH",
        176: "PPC_GUEST_DEBUG_SSTEP", 177: "ARM_NISV_TO_USER", 178: "ARM_INJECT_EXT_DABT",
        179: "S390_VCPU_RESETS", 180: "S390_PROTECTED", 181: "PPC_SECURE_GUEST",
        182: "HALT_POLL", 183: "ASYNC_PF_INT", 184: "LAST_CPU", 185: "SMALLER_MAXPHYADDR",
        186: "S390_DIAG318", 187: "STEAL_TIME", 188: "X86_USER_SPACE_MSR",
        189: "X86_MSR_FILTER", 190: "ENFORCE_PV_FEATURE_CPUID", 191: "SYS_HYPERV_CPUID",
        192: "DIRTY_LOG_RING", 193: "X86_BUS_LOCK_EXIT", 194: "PPC_DAWR1",
        195: "SET_GUEST_DEBUG2", 196: "SGX_ATTRIBUTE", 197: "VM_COPY_ENC_CONTEXT_FROM",
        198: "PTP_KVM", 199: "HYPERV_ENFORCE_CPUID", 200: "SREGS2", 201: "EXIT_HYPERCALL",
        202: "PPC_RPT_INVALIDATE", 203: "BINARY_STATS_FD", 204: "EXIT_ON_EMULATION_FAILURE",
        205: "ARM_MTE", 206: "VM_MOVE_ENC_CONTEXT_FROM", 207: "VM_GPA_BITS", 208: "XSAVE2",
        209: "SYS_ATTRIBUTES", 210: "PPC_AIL_MODE_3", 211: "S390_MEM_OP_EXTENSION",
        212: "PMU_CAPABILITY", 213: "DISABLE_QUIRKS2", 214: "VM_TSC_CONTROL",
        215: "SYSTEM_EVENT_DATA", 216: "ARM_SYSTEM_SUSPEND", 217: "S390_PROTECTED_DUMP",
        218: "X86_TRIPLE_FAULT_EVENT", 219: "X86_NOTIFY_VMEXIT",
        220: "VM_DISABLE_NX_HUGE_PAGES", 221: "S390_ZPCI_OP", 222: "S390_CPU_TOPOLOGY",
        223: "DIRTY_LOG_RING_ACQ_REL",
    ]
}
