// Generated from the KVM_CAP_* constants of <linux/kvm.h> (linux-libc-dev 6.1); the values are
// the kernel ABI. Add new ones the same way when the headers grow.

/// A KVM capability, as passed to `KVM_CHECK_EXTENSION` and `KVM_ENABLE_CAP`.
///
/// Every capability the 6.1 headers name has a static member (`.irqchip`, `.dirtyLogRing`, …);
/// a capability from newer headers can still be formed from its number with `init(rawValue:)`.
public struct KVMCapability: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The header's name without the `KVM_CAP_` prefix (for example `IRQCHIP`), or the number.
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

    /// `KVM_CAP_IRQCHIP`
    public static let irqchip = KVMCapability(rawValue: 0)
    /// `KVM_CAP_HLT`
    public static let hlt = KVMCapability(rawValue: 1)
    /// `KVM_CAP_MMU_SHADOW_CACHE_CONTROL`
    public static let mmuShadowCacheControl = KVMCapability(rawValue: 2)
    /// `KVM_CAP_USER_MEMORY`
    public static let userMemory = KVMCapability(rawValue: 3)
    /// `KVM_CAP_SET_TSS_ADDR`
    public static let setTssAddr = KVMCapability(rawValue: 4)
    /// `KVM_CAP_VAPIC`
    public static let vapic = KVMCapability(rawValue: 6)
    /// `KVM_CAP_EXT_CPUID`
    public static let extCpuid = KVMCapability(rawValue: 7)
    /// `KVM_CAP_CLOCKSOURCE`
    public static let clocksource = KVMCapability(rawValue: 8)
    /// `KVM_CAP_NR_VCPUS`
    public static let nrVcpus = KVMCapability(rawValue: 9)
    /// `KVM_CAP_NR_MEMSLOTS`
    public static let nrMemslots = KVMCapability(rawValue: 10)
    /// `KVM_CAP_PIT`
    public static let pit = KVMCapability(rawValue: 11)
    /// `KVM_CAP_NOP_IO_DELAY`
    public static let nopIoDelay = KVMCapability(rawValue: 12)
    /// `KVM_CAP_PV_MMU`
    public static let pvMmu = KVMCapability(rawValue: 13)
    /// `KVM_CAP_MP_STATE`
    public static let mpState = KVMCapability(rawValue: 14)
    /// `KVM_CAP_COALESCED_MMIO`
    public static let coalescedMmio = KVMCapability(rawValue: 15)
    /// `KVM_CAP_SYNC_MMU`
    public static let syncMmu = KVMCapability(rawValue: 16)
    /// `KVM_CAP_IOMMU`
    public static let iommu = KVMCapability(rawValue: 18)
    /// `KVM_CAP_DESTROY_MEMORY_REGION_WORKS`
    public static let destroyMemoryRegionWorks = KVMCapability(rawValue: 21)
    /// `KVM_CAP_USER_NMI`
    public static let userNmi = KVMCapability(rawValue: 22)
    /// `KVM_CAP_SET_GUEST_DEBUG`
    public static let setGuestDebug = KVMCapability(rawValue: 23)
    /// `KVM_CAP_REINJECT_CONTROL`
    public static let reinjectControl = KVMCapability(rawValue: 24)
    /// `KVM_CAP_IRQ_ROUTING`
    public static let irqRouting = KVMCapability(rawValue: 25)
    /// `KVM_CAP_IRQ_INJECT_STATUS`
    public static let irqInjectStatus = KVMCapability(rawValue: 26)
    /// `KVM_CAP_ASSIGN_DEV_IRQ`
    public static let assignDevIrq = KVMCapability(rawValue: 29)
    /// `KVM_CAP_JOIN_MEMORY_REGIONS_WORKS`
    public static let joinMemoryRegionsWorks = KVMCapability(rawValue: 30)
    /// `KVM_CAP_MCE`
    public static let mce = KVMCapability(rawValue: 31)
    /// `KVM_CAP_IRQFD`
    public static let irqfd = KVMCapability(rawValue: 32)
    /// `KVM_CAP_PIT2`
    public static let pit2 = KVMCapability(rawValue: 33)
    /// `KVM_CAP_SET_BOOT_CPU_ID`
    public static let setBootCpuId = KVMCapability(rawValue: 34)
    /// `KVM_CAP_PIT_STATE2`
    public static let pitState2 = KVMCapability(rawValue: 35)
    /// `KVM_CAP_IOEVENTFD`
    public static let ioeventfd = KVMCapability(rawValue: 36)
    /// `KVM_CAP_SET_IDENTITY_MAP_ADDR`
    public static let setIdentityMapAddr = KVMCapability(rawValue: 37)
    /// `KVM_CAP_XEN_HVM`
    public static let xenHvm = KVMCapability(rawValue: 38)
    /// `KVM_CAP_ADJUST_CLOCK`
    public static let adjustClock = KVMCapability(rawValue: 39)
    /// `KVM_CAP_INTERNAL_ERROR_DATA`
    public static let internalErrorData = KVMCapability(rawValue: 40)
    /// `KVM_CAP_VCPU_EVENTS`
    public static let vcpuEvents = KVMCapability(rawValue: 41)
    /// `KVM_CAP_S390_PSW`
    public static let s390Psw = KVMCapability(rawValue: 42)
    /// `KVM_CAP_PPC_SEGSTATE`
    public static let ppcSegstate = KVMCapability(rawValue: 43)
    /// `KVM_CAP_HYPERV`
    public static let hyperv = KVMCapability(rawValue: 44)
    /// `KVM_CAP_HYPERV_VAPIC`
    public static let hypervVapic = KVMCapability(rawValue: 45)
    /// `KVM_CAP_HYPERV_SPIN`
    public static let hypervSpin = KVMCapability(rawValue: 46)
    /// `KVM_CAP_PCI_SEGMENT`
    public static let pciSegment = KVMCapability(rawValue: 47)
    /// `KVM_CAP_PPC_PAIRED_SINGLES`
    public static let ppcPairedSingles = KVMCapability(rawValue: 48)
    /// `KVM_CAP_INTR_SHADOW`
    public static let intrShadow = KVMCapability(rawValue: 49)
    /// `KVM_CAP_DEBUGREGS`
    public static let debugregs = KVMCapability(rawValue: 50)
    /// `KVM_CAP_X86_ROBUST_SINGLESTEP`
    public static let x86RobustSinglestep = KVMCapability(rawValue: 51)
    /// `KVM_CAP_PPC_OSI`
    public static let ppcOsi = KVMCapability(rawValue: 52)
    /// `KVM_CAP_PPC_UNSET_IRQ`
    public static let ppcUnsetIrq = KVMCapability(rawValue: 53)
    /// `KVM_CAP_ENABLE_CAP`
    public static let enableCap = KVMCapability(rawValue: 54)
    /// `KVM_CAP_XSAVE`
    public static let xsave = KVMCapability(rawValue: 55)
    /// `KVM_CAP_XCRS`
    public static let xcrs = KVMCapability(rawValue: 56)
    /// `KVM_CAP_PPC_GET_PVINFO`
    public static let ppcGetPvinfo = KVMCapability(rawValue: 57)
    /// `KVM_CAP_PPC_IRQ_LEVEL`
    public static let ppcIrqLevel = KVMCapability(rawValue: 58)
    /// `KVM_CAP_ASYNC_PF`
    public static let asyncPf = KVMCapability(rawValue: 59)
    /// `KVM_CAP_TSC_CONTROL`
    public static let tscControl = KVMCapability(rawValue: 60)
    /// `KVM_CAP_GET_TSC_KHZ`
    public static let getTscKhz = KVMCapability(rawValue: 61)
    /// `KVM_CAP_PPC_BOOKE_SREGS`
    public static let ppcBookeSregs = KVMCapability(rawValue: 62)
    /// `KVM_CAP_SPAPR_TCE`
    public static let spaprTce = KVMCapability(rawValue: 63)
    /// `KVM_CAP_PPC_SMT`
    public static let ppcSmt = KVMCapability(rawValue: 64)
    /// `KVM_CAP_PPC_RMA`
    public static let ppcRma = KVMCapability(rawValue: 65)
    /// `KVM_CAP_MAX_VCPUS`
    public static let maxVcpus = KVMCapability(rawValue: 66)
    /// `KVM_CAP_PPC_HIOR`
    public static let ppcHior = KVMCapability(rawValue: 67)
    /// `KVM_CAP_PPC_PAPR`
    public static let ppcPapr = KVMCapability(rawValue: 68)
    /// `KVM_CAP_SW_TLB`
    public static let swTlb = KVMCapability(rawValue: 69)
    /// `KVM_CAP_ONE_REG`
    public static let oneReg = KVMCapability(rawValue: 70)
    /// `KVM_CAP_S390_GMAP`
    public static let s390Gmap = KVMCapability(rawValue: 71)
    /// `KVM_CAP_TSC_DEADLINE_TIMER`
    public static let tscDeadlineTimer = KVMCapability(rawValue: 72)
    /// `KVM_CAP_S390_UCONTROL`
    public static let s390Ucontrol = KVMCapability(rawValue: 73)
    /// `KVM_CAP_SYNC_REGS`
    public static let syncRegs = KVMCapability(rawValue: 74)
    /// `KVM_CAP_PCI_2_3`
    public static let pci23 = KVMCapability(rawValue: 75)
    /// `KVM_CAP_KVMCLOCK_CTRL`
    public static let kvmclockCtrl = KVMCapability(rawValue: 76)
    /// `KVM_CAP_SIGNAL_MSI`
    public static let signalMsi = KVMCapability(rawValue: 77)
    /// `KVM_CAP_PPC_GET_SMMU_INFO`
    public static let ppcGetSmmuInfo = KVMCapability(rawValue: 78)
    /// `KVM_CAP_S390_COW`
    public static let s390Cow = KVMCapability(rawValue: 79)
    /// `KVM_CAP_PPC_ALLOC_HTAB`
    public static let ppcAllocHtab = KVMCapability(rawValue: 80)
    /// `KVM_CAP_READONLY_MEM`
    public static let readonlyMem = KVMCapability(rawValue: 81)
    /// `KVM_CAP_IRQFD_RESAMPLE`
    public static let irqfdResample = KVMCapability(rawValue: 82)
    /// `KVM_CAP_PPC_BOOKE_WATCHDOG`
    public static let ppcBookeWatchdog = KVMCapability(rawValue: 83)
    /// `KVM_CAP_PPC_HTAB_FD`
    public static let ppcHtabFd = KVMCapability(rawValue: 84)
    /// `KVM_CAP_S390_CSS_SUPPORT`
    public static let s390CssSupport = KVMCapability(rawValue: 85)
    /// `KVM_CAP_PPC_EPR`
    public static let ppcEpr = KVMCapability(rawValue: 86)
    /// `KVM_CAP_ARM_PSCI`
    public static let armPsci = KVMCapability(rawValue: 87)
    /// `KVM_CAP_ARM_SET_DEVICE_ADDR`
    public static let armSetDeviceAddr = KVMCapability(rawValue: 88)
    /// `KVM_CAP_DEVICE_CTRL`
    public static let deviceCtrl = KVMCapability(rawValue: 89)
    /// `KVM_CAP_IRQ_MPIC`
    public static let irqMpic = KVMCapability(rawValue: 90)
    /// `KVM_CAP_PPC_RTAS`
    public static let ppcRtas = KVMCapability(rawValue: 91)
    /// `KVM_CAP_IRQ_XICS`
    public static let irqXics = KVMCapability(rawValue: 92)
    /// `KVM_CAP_ARM_EL1_32BIT`
    public static let armEl132bit = KVMCapability(rawValue: 93)
    /// `KVM_CAP_SPAPR_MULTITCE`
    public static let spaprMultitce = KVMCapability(rawValue: 94)
    /// `KVM_CAP_EXT_EMUL_CPUID`
    public static let extEmulCpuid = KVMCapability(rawValue: 95)
    /// `KVM_CAP_HYPERV_TIME`
    public static let hypervTime = KVMCapability(rawValue: 96)
    /// `KVM_CAP_IOAPIC_POLARITY_IGNORED`
    public static let ioapicPolarityIgnored = KVMCapability(rawValue: 97)
    /// `KVM_CAP_ENABLE_CAP_VM`
    public static let enableCapVm = KVMCapability(rawValue: 98)
    /// `KVM_CAP_S390_IRQCHIP`
    public static let s390Irqchip = KVMCapability(rawValue: 99)
    /// `KVM_CAP_IOEVENTFD_NO_LENGTH`
    public static let ioeventfdNoLength = KVMCapability(rawValue: 100)
    /// `KVM_CAP_VM_ATTRIBUTES`
    public static let vmAttributes = KVMCapability(rawValue: 101)
    /// `KVM_CAP_ARM_PSCI_0_2`
    public static let armPsci02 = KVMCapability(rawValue: 102)
    /// `KVM_CAP_PPC_FIXUP_HCALL`
    public static let ppcFixupHcall = KVMCapability(rawValue: 103)
    /// `KVM_CAP_PPC_ENABLE_HCALL`
    public static let ppcEnableHcall = KVMCapability(rawValue: 104)
    /// `KVM_CAP_CHECK_EXTENSION_VM`
    public static let checkExtensionVm = KVMCapability(rawValue: 105)
    /// `KVM_CAP_S390_USER_SIGP`
    public static let s390UserSigp = KVMCapability(rawValue: 106)
    /// `KVM_CAP_S390_VECTOR_REGISTERS`
    public static let s390VectorRegisters = KVMCapability(rawValue: 107)
    /// `KVM_CAP_S390_MEM_OP`
    public static let s390MemOp = KVMCapability(rawValue: 108)
    /// `KVM_CAP_S390_USER_STSI`
    public static let s390UserStsi = KVMCapability(rawValue: 109)
    /// `KVM_CAP_S390_SKEYS`
    public static let s390Skeys = KVMCapability(rawValue: 110)
    /// `KVM_CAP_MIPS_FPU`
    public static let mipsFpu = KVMCapability(rawValue: 111)
    /// `KVM_CAP_MIPS_MSA`
    public static let mipsMsa = KVMCapability(rawValue: 112)
    /// `KVM_CAP_S390_INJECT_IRQ`
    public static let s390InjectIrq = KVMCapability(rawValue: 113)
    /// `KVM_CAP_S390_IRQ_STATE`
    public static let s390IrqState = KVMCapability(rawValue: 114)
    /// `KVM_CAP_PPC_HWRNG`
    public static let ppcHwrng = KVMCapability(rawValue: 115)
    /// `KVM_CAP_DISABLE_QUIRKS`
    public static let disableQuirks = KVMCapability(rawValue: 116)
    /// `KVM_CAP_X86_SMM`
    public static let x86Smm = KVMCapability(rawValue: 117)
    /// `KVM_CAP_MULTI_ADDRESS_SPACE`
    public static let multiAddressSpace = KVMCapability(rawValue: 118)
    /// `KVM_CAP_GUEST_DEBUG_HW_BPS`
    public static let guestDebugHwBps = KVMCapability(rawValue: 119)
    /// `KVM_CAP_GUEST_DEBUG_HW_WPS`
    public static let guestDebugHwWps = KVMCapability(rawValue: 120)
    /// `KVM_CAP_SPLIT_IRQCHIP`
    public static let splitIrqchip = KVMCapability(rawValue: 121)
    /// `KVM_CAP_IOEVENTFD_ANY_LENGTH`
    public static let ioeventfdAnyLength = KVMCapability(rawValue: 122)
    /// `KVM_CAP_HYPERV_SYNIC`
    public static let hypervSynic = KVMCapability(rawValue: 123)
    /// `KVM_CAP_S390_RI`
    public static let s390Ri = KVMCapability(rawValue: 124)
    /// `KVM_CAP_SPAPR_TCE_64`
    public static let spaprTce64 = KVMCapability(rawValue: 125)
    /// `KVM_CAP_ARM_PMU_V3`
    public static let armPmuV3 = KVMCapability(rawValue: 126)
    /// `KVM_CAP_VCPU_ATTRIBUTES`
    public static let vcpuAttributes = KVMCapability(rawValue: 127)
    /// `KVM_CAP_MAX_VCPU_ID`
    public static let maxVcpuId = KVMCapability(rawValue: 128)
    /// `KVM_CAP_X2APIC_API`
    public static let x2apicApi = KVMCapability(rawValue: 129)
    /// `KVM_CAP_S390_USER_INSTR0`
    public static let s390UserInstr0 = KVMCapability(rawValue: 130)
    /// `KVM_CAP_MSI_DEVID`
    public static let msiDevid = KVMCapability(rawValue: 131)
    /// `KVM_CAP_PPC_HTM`
    public static let ppcHtm = KVMCapability(rawValue: 132)
    /// `KVM_CAP_SPAPR_RESIZE_HPT`
    public static let spaprResizeHpt = KVMCapability(rawValue: 133)
    /// `KVM_CAP_PPC_MMU_RADIX`
    public static let ppcMmuRadix = KVMCapability(rawValue: 134)
    /// `KVM_CAP_PPC_MMU_HASH_V3`
    public static let ppcMmuHashV3 = KVMCapability(rawValue: 135)
    /// `KVM_CAP_IMMEDIATE_EXIT`
    public static let immediateExit = KVMCapability(rawValue: 136)
    /// `KVM_CAP_MIPS_VZ`
    public static let mipsVz = KVMCapability(rawValue: 137)
    /// `KVM_CAP_MIPS_TE`
    public static let mipsTe = KVMCapability(rawValue: 138)
    /// `KVM_CAP_MIPS_64BIT`
    public static let mips64bit = KVMCapability(rawValue: 139)
    /// `KVM_CAP_S390_GS`
    public static let s390Gs = KVMCapability(rawValue: 140)
    /// `KVM_CAP_S390_AIS`
    public static let s390Ais = KVMCapability(rawValue: 141)
    /// `KVM_CAP_SPAPR_TCE_VFIO`
    public static let spaprTceVfio = KVMCapability(rawValue: 142)
    /// `KVM_CAP_X86_DISABLE_EXITS`
    public static let x86DisableExits = KVMCapability(rawValue: 143)
    /// `KVM_CAP_ARM_USER_IRQ`
    public static let armUserIrq = KVMCapability(rawValue: 144)
    /// `KVM_CAP_S390_CMMA_MIGRATION`
    public static let s390CmmaMigration = KVMCapability(rawValue: 145)
    /// `KVM_CAP_PPC_FWNMI`
    public static let ppcFwnmi = KVMCapability(rawValue: 146)
    /// `KVM_CAP_PPC_SMT_POSSIBLE`
    public static let ppcSmtPossible = KVMCapability(rawValue: 147)
    /// `KVM_CAP_HYPERV_SYNIC2`
    public static let hypervSynic2 = KVMCapability(rawValue: 148)
    /// `KVM_CAP_HYPERV_VP_INDEX`
    public static let hypervVpIndex = KVMCapability(rawValue: 149)
    /// `KVM_CAP_S390_AIS_MIGRATION`
    public static let s390AisMigration = KVMCapability(rawValue: 150)
    /// `KVM_CAP_PPC_GET_CPU_CHAR`
    public static let ppcGetCpuChar = KVMCapability(rawValue: 151)
    /// `KVM_CAP_S390_BPB`
    public static let s390Bpb = KVMCapability(rawValue: 152)
    /// `KVM_CAP_GET_MSR_FEATURES`
    public static let getMsrFeatures = KVMCapability(rawValue: 153)
    /// `KVM_CAP_HYPERV_EVENTFD`
    public static let hypervEventfd = KVMCapability(rawValue: 154)
    /// `KVM_CAP_HYPERV_TLBFLUSH`
    public static let hypervTlbflush = KVMCapability(rawValue: 155)
    /// `KVM_CAP_S390_HPAGE_1M`
    public static let s390Hpage1m = KVMCapability(rawValue: 156)
    /// `KVM_CAP_NESTED_STATE`
    public static let nestedState = KVMCapability(rawValue: 157)
    /// `KVM_CAP_ARM_INJECT_SERROR_ESR`
    public static let armInjectSerrorEsr = KVMCapability(rawValue: 158)
    /// `KVM_CAP_MSR_PLATFORM_INFO`
    public static let msrPlatformInfo = KVMCapability(rawValue: 159)
    /// `KVM_CAP_PPC_NESTED_HV`
    public static let ppcNestedHv = KVMCapability(rawValue: 160)
    /// `KVM_CAP_HYPERV_SEND_IPI`
    public static let hypervSendIpi = KVMCapability(rawValue: 161)
    /// `KVM_CAP_COALESCED_PIO`
    public static let coalescedPio = KVMCapability(rawValue: 162)
    /// `KVM_CAP_HYPERV_ENLIGHTENED_VMCS`
    public static let hypervEnlightenedVmcs = KVMCapability(rawValue: 163)
    /// `KVM_CAP_EXCEPTION_PAYLOAD`
    public static let exceptionPayload = KVMCapability(rawValue: 164)
    /// `KVM_CAP_ARM_VM_IPA_SIZE`
    public static let armVmIpaSize = KVMCapability(rawValue: 165)
    /// `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT`
    public static let manualDirtyLogProtect = KVMCapability(rawValue: 166)
    /// `KVM_CAP_HYPERV_CPUID`
    public static let hypervCpuid = KVMCapability(rawValue: 167)
    /// `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2`
    public static let manualDirtyLogProtect2 = KVMCapability(rawValue: 168)
    /// `KVM_CAP_PPC_IRQ_XIVE`
    public static let ppcIrqXive = KVMCapability(rawValue: 169)
    /// `KVM_CAP_ARM_SVE`
    public static let armSve = KVMCapability(rawValue: 170)
    /// `KVM_CAP_ARM_PTRAUTH_ADDRESS`
    public static let armPtrauthAddress = KVMCapability(rawValue: 171)
    /// `KVM_CAP_ARM_PTRAUTH_GENERIC`
    public static let armPtrauthGeneric = KVMCapability(rawValue: 172)
    /// `KVM_CAP_PMU_EVENT_FILTER`
    public static let pmuEventFilter = KVMCapability(rawValue: 173)
    /// `KVM_CAP_ARM_IRQ_LINE_LAYOUT_2`
    public static let armIrqLineLayout2 = KVMCapability(rawValue: 174)
    /// `KVM_CAP_HYPERV_DIRECT_TLBFLUSH`
    public static let hypervDirectTlbflush = KVMCapability(rawValue: 175)
    /// `KVM_CAP_PPC_GUEST_DEBUG_SSTEP`
    public static let ppcGuestDebugSstep = KVMCapability(rawValue: 176)
    /// `KVM_CAP_ARM_NISV_TO_USER`
    public static let armNisvToUser = KVMCapability(rawValue: 177)
    /// `KVM_CAP_ARM_INJECT_EXT_DABT`
    public static let armInjectExtDabt = KVMCapability(rawValue: 178)
    /// `KVM_CAP_S390_VCPU_RESETS`
    public static let s390VcpuResets = KVMCapability(rawValue: 179)
    /// `KVM_CAP_S390_PROTECTED`
    public static let s390Protected = KVMCapability(rawValue: 180)
    /// `KVM_CAP_PPC_SECURE_GUEST`
    public static let ppcSecureGuest = KVMCapability(rawValue: 181)
    /// `KVM_CAP_HALT_POLL`
    public static let haltPoll = KVMCapability(rawValue: 182)
    /// `KVM_CAP_ASYNC_PF_INT`
    public static let asyncPfInt = KVMCapability(rawValue: 183)
    /// `KVM_CAP_LAST_CPU`
    public static let lastCpu = KVMCapability(rawValue: 184)
    /// `KVM_CAP_SMALLER_MAXPHYADDR`
    public static let smallerMaxphyaddr = KVMCapability(rawValue: 185)
    /// `KVM_CAP_S390_DIAG318`
    public static let s390Diag318 = KVMCapability(rawValue: 186)
    /// `KVM_CAP_STEAL_TIME`
    public static let stealTime = KVMCapability(rawValue: 187)
    /// `KVM_CAP_X86_USER_SPACE_MSR`
    public static let x86UserSpaceMsr = KVMCapability(rawValue: 188)
    /// `KVM_CAP_X86_MSR_FILTER`
    public static let x86MsrFilter = KVMCapability(rawValue: 189)
    /// `KVM_CAP_ENFORCE_PV_FEATURE_CPUID`
    public static let enforcePvFeatureCpuid = KVMCapability(rawValue: 190)
    /// `KVM_CAP_SYS_HYPERV_CPUID`
    public static let sysHypervCpuid = KVMCapability(rawValue: 191)
    /// `KVM_CAP_DIRTY_LOG_RING`
    public static let dirtyLogRing = KVMCapability(rawValue: 192)
    /// `KVM_CAP_X86_BUS_LOCK_EXIT`
    public static let x86BusLockExit = KVMCapability(rawValue: 193)
    /// `KVM_CAP_PPC_DAWR1`
    public static let ppcDawr1 = KVMCapability(rawValue: 194)
    /// `KVM_CAP_SET_GUEST_DEBUG2`
    public static let setGuestDebug2 = KVMCapability(rawValue: 195)
    /// `KVM_CAP_SGX_ATTRIBUTE`
    public static let sgxAttribute = KVMCapability(rawValue: 196)
    /// `KVM_CAP_VM_COPY_ENC_CONTEXT_FROM`
    public static let vmCopyEncContextFrom = KVMCapability(rawValue: 197)
    /// `KVM_CAP_PTP_KVM`
    public static let ptpKvm = KVMCapability(rawValue: 198)
    /// `KVM_CAP_HYPERV_ENFORCE_CPUID`
    public static let hypervEnforceCpuid = KVMCapability(rawValue: 199)
    /// `KVM_CAP_SREGS2`
    public static let sregs2 = KVMCapability(rawValue: 200)
    /// `KVM_CAP_EXIT_HYPERCALL`
    public static let exitHypercall = KVMCapability(rawValue: 201)
    /// `KVM_CAP_PPC_RPT_INVALIDATE`
    public static let ppcRptInvalidate = KVMCapability(rawValue: 202)
    /// `KVM_CAP_BINARY_STATS_FD`
    public static let binaryStatsFd = KVMCapability(rawValue: 203)
    /// `KVM_CAP_EXIT_ON_EMULATION_FAILURE`
    public static let exitOnEmulationFailure = KVMCapability(rawValue: 204)
    /// `KVM_CAP_ARM_MTE`
    public static let armMte = KVMCapability(rawValue: 205)
    /// `KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM`
    public static let vmMoveEncContextFrom = KVMCapability(rawValue: 206)
    /// `KVM_CAP_VM_GPA_BITS`
    public static let vmGpaBits = KVMCapability(rawValue: 207)
    /// `KVM_CAP_XSAVE2`
    public static let xsave2 = KVMCapability(rawValue: 208)
    /// `KVM_CAP_SYS_ATTRIBUTES`
    public static let sysAttributes = KVMCapability(rawValue: 209)
    /// `KVM_CAP_PPC_AIL_MODE_3`
    public static let ppcAilMode3 = KVMCapability(rawValue: 210)
    /// `KVM_CAP_S390_MEM_OP_EXTENSION`
    public static let s390MemOpExtension = KVMCapability(rawValue: 211)
    /// `KVM_CAP_PMU_CAPABILITY`
    public static let pmuCapability = KVMCapability(rawValue: 212)
    /// `KVM_CAP_DISABLE_QUIRKS2`
    public static let disableQuirks2 = KVMCapability(rawValue: 213)
    /// `KVM_CAP_VM_TSC_CONTROL`
    public static let vmTscControl = KVMCapability(rawValue: 214)
    /// `KVM_CAP_SYSTEM_EVENT_DATA`
    public static let systemEventData = KVMCapability(rawValue: 215)
    /// `KVM_CAP_ARM_SYSTEM_SUSPEND`
    public static let armSystemSuspend = KVMCapability(rawValue: 216)
    /// `KVM_CAP_S390_PROTECTED_DUMP`
    public static let s390ProtectedDump = KVMCapability(rawValue: 217)
    /// `KVM_CAP_X86_TRIPLE_FAULT_EVENT`
    public static let x86TripleFaultEvent = KVMCapability(rawValue: 218)
    /// `KVM_CAP_X86_NOTIFY_VMEXIT`
    public static let x86NotifyVmexit = KVMCapability(rawValue: 219)
    /// `KVM_CAP_VM_DISABLE_NX_HUGE_PAGES`
    public static let vmDisableNxHugePages = KVMCapability(rawValue: 220)
    /// `KVM_CAP_S390_ZPCI_OP`
    public static let s390ZpciOp = KVMCapability(rawValue: 221)
    /// `KVM_CAP_S390_CPU_TOPOLOGY`
    public static let s390CpuTopology = KVMCapability(rawValue: 222)
    /// `KVM_CAP_DIRTY_LOG_RING_ACQ_REL`
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
