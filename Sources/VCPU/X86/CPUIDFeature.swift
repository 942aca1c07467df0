import KVM

/// One named CPUID feature bit: where it lives (leaf, sub-leaf, register, bit) and the name Linux
/// gives it in `/proc/cpuinfo`.
///
/// The catalogue (``all``) covers the bits an embedder commonly hides from a Linux guest: leaf 1
/// ECX and EDX, leaf 7 sub-leaf 0 EBX, ECX and EDX (and the two AVX bits of sub-leaf 1 EAX), leaf
/// 0xD sub-leaf 1 EAX (the XSAVE variants), leaf 0x8000_0001 ECX and EDX, and KVM's feature leaf
/// 0x4000_0001 EAX. Bit positions follow the Intel SDM (volume 2, CPUID), Linux's
/// `arch/x86/include/asm/cpufeatures.h` and, for KVM's leaf, `arch/x86/include/uapi/asm/kvm_para.h`.
///
/// Names are Linux's `/proc/cpuinfo` names (`cx16`, `xsave`, `avx2`, `tsc_deadline_timer`); a bit
/// Linux does not show (`osxsave`, `spec_ctrl`) takes its `X86_FEATURE_` name in lower case. KVM's
/// paravirtual bits, which Linux does not show either, are named after their `KVM_FEATURE_`
/// constant in lower case with `kvm_` in front (`kvm_pv_eoi`, `kvm_steal_time`), except the
/// clock-source bits, which keep the name the guest driver goes by: `kvmclock`, `kvmclock2` and
/// `kvmclock_stable_bit`. The Swift constants are the same names in lower camel case (``cx16``,
/// ``tscDeadlineTimer``, ``kvmPvEoi``), `3dnow…` spelled ``threeDNow`` and the like.
///
/// The x86-64 baseline a 64-bit Linux kernel cannot run without is deliberately not in the
/// catalogue, so no template can hide it: `lm` (long mode: without it KVM refuses `EFER.LME` and
/// the kernel's `verify_cpu` stops before it starts), `syscall` (every system call of a 64-bit
/// kernel uses it, and the kernel never checks the bit), and `fpu`, `pae`, `msr`, `cx8`, `pge`,
/// `fxsr`, `cmov`, `sse` and `sse2` (Linux's `arch/x86/include/asm/required-features.h` for
/// x86-64). ``init(named:)`` returns `nil` for them, and ``CPUIDTemplate/init(hidingNames:)``
/// refuses them with ``CPUIDTemplateError/notHideable(_:)``.
public struct CPUIDFeature: Hashable, Sendable, CustomStringConvertible {
    /// The register of a CPUID result that holds a feature bit.
    public enum Register: String, Hashable, Sendable, CaseIterable {
        /// EAX.
        case eax
        /// EBX.
        case ebx
        /// ECX.
        case ecx
        /// EDX.
        case edx
    }

    /// Linux's `/proc/cpuinfo` name (see the type's documentation for bits Linux does not show).
    public let name: String
    /// The CPUID leaf (the value of EAX when CPUID executes).
    public let leaf: UInt32
    /// The sub-leaf (the value of ECX): 0 for leaves without sub-leaves.
    public let subleaf: UInt32
    /// The register that holds the bit.
    public let register: Register
    /// The bit's position in ``register``, 0 to 31.
    public let bit: Int

    init(_ name: String, leaf: UInt32, subleaf: UInt32, _ register: Register, bit: Int) {
        precondition((0..<32).contains(bit), "a CPUID register has 32 bits")
        self.name = name
        self.leaf = leaf
        self.subleaf = subleaf
        self.register = register
        self.bit = bit
    }

    /// The bit as a mask of ``register``.
    public var mask: UInt32 { 1 << UInt32(bit) }

    /// The name and where the bit is, e.g. `cx16 (CPUID 0x1 ECX bit 13)` or
    /// `avx2 (CPUID 0x7.0 EBX bit 5)` for a leaf with sub-leaves.
    public var description: String {
        let leafText = "0x" + String(leaf, radix: 16)
        let place = Self.leavesWithSubleaves.contains(leaf) ? "\(leafText).\(subleaf)" : leafText
        return "\(name) (CPUID \(place) \(register.rawValue.uppercased()) bit \(bit))"
    }

    /// The feature called `name`: a ``name`` from ``all``, compared without regard to case, with
    /// surrounding white space ignored and `-` read as `_` (so `TSC-Deadline-Timer` finds
    /// ``tscDeadlineTimer``). `nil` for an unknown name and for the x86-64 baseline (`lm`, `sse2`
    /// …), which the catalogue leaves out on purpose.
    public init?(named name: String) {
        guard let feature = Self.byName[Self.normalised(name)] else { return nil }
        self = feature
    }

    /// Every feature a template can hide: leaves 1, 7, 0xD and 0x8000_0001, then KVM's 0x4000_0001;
    /// by sub-leaf, register and bit within a leaf.
    public static let all: [CPUIDFeature] = [
        .pni, .pclmulqdq, .dtes64, .monitor, .dsCpl, .vmx, .smx, .est, .tm2, .ssse3, .cid, .sdbg, .fma, .cx16, .xtpr,
        .pdcm, .pcid, .dca, .sse4_1, .sse4_2, .x2apic, .movbe, .popcnt, .tscDeadlineTimer, .aes, .xsave, .osxsave,
        .avx, .f16c, .rdrand, .hypervisor, .vme, .de, .pse, .tsc, .mce, .apic, .sep, .mtrr, .mca, .pat, .pse36, .pn,
        .clflush, .dts, .acpi, .mmx, .ss, .ht, .tm, .pbe, .fsgsbase, .tscAdjust, .sgx, .bmi1, .hle, .avx2, .smep,
        .bmi2, .erms, .invpcid, .rtm, .cqm, .mpx, .rdtA, .avx512f, .avx512dq, .rdseed, .adx, .smap, .avx512ifma,
        .clflushopt, .clwb, .intelPt, .avx512pf, .avx512er, .avx512cd, .shaNi, .avx512bw, .avx512vl, .avx512vbmi,
        .umip, .pku, .ospke, .waitpkg, .avx512Vbmi2, .shstk, .gfni, .vaes, .vpclmulqdq, .avx512Vnni, .avx512Bitalg,
        .tme, .avx512Vpopcntdq, .la57, .rdpid, .busLockDetect, .cldemote, .movdiri, .movdir64b, .enqcmd, .sgxLc,
        .avx512_4vnniw, .avx512_4fmaps, .fsrm, .avx512Vp2intersect, .mdClear, .serialize, .tsxldtrk, .pconfig,
        .archLbr, .ibt, .amxBf16, .avx512Fp16, .amxTile, .amxInt8, .specCtrl, .intelStibp, .flushL1d,
        .archCapabilities, .coreCapabilities, .specCtrlSsbd, .avxVnni, .avx512Bf16, .xsaveopt, .xsavec, .xgetbv1,
        .xsaves, .xfd, .lahfLm, .cmpLegacy, .svm, .extapic, .cr8Legacy, .abm, .sse4a, .misalignsse,
        .threeDNowPrefetch, .osvw, .ibs, .xop, .skinit, .wdt, .lwp, .fma4, .tce, .nodeidMsr, .tbm, .topoext,
        .perfctrCore, .perfctrNb, .bpext, .ptsc, .perfctrLlc, .mwaitx, .nx, .mmxext, .fxsrOpt, .pdpe1gb, .rdtscp,
        .threeDNowExt, .threeDNow, .kvmClock, .kvmNopIoDelay, .kvmClock2, .kvmAsyncPf, .kvmStealTime, .kvmPvEoi,
        .kvmPvUnhalt, .kvmPvTlbFlush, .kvmAsyncPfVmexit, .kvmPvSendIpi, .kvmPollControl, .kvmPvSchedYield,
        .kvmAsyncPfInt, .kvmMsiExtDestId, .kvmHcMapGpaRange, .kvmMigrationControl, .kvmClockStableBit,
    ]

    /// The catalogue by normalised name.
    static let byName: [String: CPUIDFeature] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The leaves whose feature bits depend on the sub-leaf (ECX).
    static let leavesWithSubleaves: Set<UInt32> = [0x7, 0xd]

    /// The x86-64 baseline a 64-bit Linux kernel needs, left out of the catalogue: name → why.
    static let baseline: [String: String] = {
        let required = "part of the x86-64 baseline a 64-bit Linux kernel requires (asm/required-features.h)"
        var reasons: [String: String] = [:]
        for name in ["fpu", "pae", "msr", "cx8", "pge", "fxsr", "cmov", "sse", "sse2"] { reasons[name] = required }
        reasons["lm"] =
            "a 64-bit kernel needs long mode: KVM refuses EFER.LME without it and the kernel stops in verify_cpu"
        reasons["syscall"] = "a 64-bit kernel enters every system call through SYSCALL and never checks the bit"
        return reasons
    }()

    /// `name` trimmed, in lower case, with `-` read as `_`.
    static func normalised(_ name: String) -> String {
        String(name.trimmingWhiteSpace().lowercased().map { $0 == "-" ? "_" : $0 })
    }
}

extension String {
    /// The string without leading and trailing white space.
    func trimmingWhiteSpace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension CPUIDEntry {
    /// The value of `register`.
    subscript(register: CPUIDFeature.Register) -> UInt32 {
        get {
            switch register {
            case .eax: eax
            case .ebx: ebx
            case .ecx: ecx
            case .edx: edx
            }
        }
        set {
            switch register {
            case .eax: eax = newValue
            case .ebx: ebx = newValue
            case .ecx: ecx = newValue
            case .edx: edx = newValue
            }
        }
    }
}

extension CPUIDFeature {
    // MARK: Leaf 1 ECX

    /// `pni`: SSE3 (Linux's name: Prescott New Instructions).
    public static let pni = CPUIDFeature("pni", leaf: 0x1, subleaf: 0, .ecx, bit: 0)
    /// `pclmulqdq`: PCLMULQDQ carry-less multiplication.
    public static let pclmulqdq = CPUIDFeature("pclmulqdq", leaf: 0x1, subleaf: 0, .ecx, bit: 1)
    /// `dtes64`: 64-bit debug store.
    public static let dtes64 = CPUIDFeature("dtes64", leaf: 0x1, subleaf: 0, .ecx, bit: 2)
    /// `monitor`: MONITOR and MWAIT.
    public static let monitor = CPUIDFeature("monitor", leaf: 0x1, subleaf: 0, .ecx, bit: 3)
    /// `ds_cpl`: CPL-qualified debug store.
    public static let dsCpl = CPUIDFeature("ds_cpl", leaf: 0x1, subleaf: 0, .ecx, bit: 4)
    /// `vmx`: VMX (nested virtualization on Intel).
    public static let vmx = CPUIDFeature("vmx", leaf: 0x1, subleaf: 0, .ecx, bit: 5)
    /// `smx`: Safer Mode Extensions.
    public static let smx = CPUIDFeature("smx", leaf: 0x1, subleaf: 0, .ecx, bit: 6)
    /// `est`: Enhanced SpeedStep.
    public static let est = CPUIDFeature("est", leaf: 0x1, subleaf: 0, .ecx, bit: 7)
    /// `tm2`: Thermal Monitor 2.
    public static let tm2 = CPUIDFeature("tm2", leaf: 0x1, subleaf: 0, .ecx, bit: 8)
    /// `ssse3`: Supplemental SSE3.
    public static let ssse3 = CPUIDFeature("ssse3", leaf: 0x1, subleaf: 0, .ecx, bit: 9)
    /// `cid`: L1 context ID.
    public static let cid = CPUIDFeature("cid", leaf: 0x1, subleaf: 0, .ecx, bit: 10)
    /// `sdbg`: silicon debug.
    public static let sdbg = CPUIDFeature("sdbg", leaf: 0x1, subleaf: 0, .ecx, bit: 11)
    /// `fma`: FMA3 fused multiply-add (needs AVX).
    public static let fma = CPUIDFeature("fma", leaf: 0x1, subleaf: 0, .ecx, bit: 12)
    /// `cx16`: CMPXCHG16B.
    public static let cx16 = CPUIDFeature("cx16", leaf: 0x1, subleaf: 0, .ecx, bit: 13)
    /// `xtpr`: xTPR update control.
    public static let xtpr = CPUIDFeature("xtpr", leaf: 0x1, subleaf: 0, .ecx, bit: 14)
    /// `pdcm`: perfmon and debug capability MSR.
    public static let pdcm = CPUIDFeature("pdcm", leaf: 0x1, subleaf: 0, .ecx, bit: 15)
    /// `pcid`: process-context identifiers.
    public static let pcid = CPUIDFeature("pcid", leaf: 0x1, subleaf: 0, .ecx, bit: 17)
    /// `dca`: direct cache access.
    public static let dca = CPUIDFeature("dca", leaf: 0x1, subleaf: 0, .ecx, bit: 18)
    /// `sse4_1`: SSE4.1.
    public static let sse4_1 = CPUIDFeature("sse4_1", leaf: 0x1, subleaf: 0, .ecx, bit: 19)
    /// `sse4_2`: SSE4.2.
    public static let sse4_2 = CPUIDFeature("sse4_2", leaf: 0x1, subleaf: 0, .ecx, bit: 20)
    /// `x2apic`: x2APIC.
    public static let x2apic = CPUIDFeature("x2apic", leaf: 0x1, subleaf: 0, .ecx, bit: 21)
    /// `movbe`: MOVBE.
    public static let movbe = CPUIDFeature("movbe", leaf: 0x1, subleaf: 0, .ecx, bit: 22)
    /// `popcnt`: POPCNT.
    public static let popcnt = CPUIDFeature("popcnt", leaf: 0x1, subleaf: 0, .ecx, bit: 23)
    /// `tsc_deadline_timer`: the LAPIC timer's TSC-deadline mode.
    public static let tscDeadlineTimer = CPUIDFeature("tsc_deadline_timer", leaf: 0x1, subleaf: 0, .ecx, bit: 24)
    /// `aes`: AES-NI.
    public static let aes = CPUIDFeature("aes", leaf: 0x1, subleaf: 0, .ecx, bit: 25)
    /// `xsave`: XSAVE, XRSTOR, XSETBV and XGETBV.
    public static let xsave = CPUIDFeature("xsave", leaf: 0x1, subleaf: 0, .ecx, bit: 26)
    /// `osxsave`: CR4.OSXSAVE as the guest set it (KVM fills it in at run time; Linux does not show it).
    public static let osxsave = CPUIDFeature("osxsave", leaf: 0x1, subleaf: 0, .ecx, bit: 27)
    /// `avx`: AVX (needs XSAVE).
    public static let avx = CPUIDFeature("avx", leaf: 0x1, subleaf: 0, .ecx, bit: 28)
    /// `f16c`: half-precision conversions.
    public static let f16c = CPUIDFeature("f16c", leaf: 0x1, subleaf: 0, .ecx, bit: 29)
    /// `rdrand`: RDRAND.
    public static let rdrand = CPUIDFeature("rdrand", leaf: 0x1, subleaf: 0, .ecx, bit: 30)
    /// `hypervisor`: running under a hypervisor (``CPUIDBuilder`` sets it).
    public static let hypervisor = CPUIDFeature("hypervisor", leaf: 0x1, subleaf: 0, .ecx, bit: 31)

    // MARK: Leaf 1 EDX

    /// `vme`: virtual-8086 mode extensions.
    public static let vme = CPUIDFeature("vme", leaf: 0x1, subleaf: 0, .edx, bit: 1)
    /// `de`: debugging extensions.
    public static let de = CPUIDFeature("de", leaf: 0x1, subleaf: 0, .edx, bit: 2)
    /// `pse`: 4 MiB pages in 32-bit paging.
    public static let pse = CPUIDFeature("pse", leaf: 0x1, subleaf: 0, .edx, bit: 3)
    /// `tsc`: the time-stamp counter.
    public static let tsc = CPUIDFeature("tsc", leaf: 0x1, subleaf: 0, .edx, bit: 4)
    /// `mce`: machine-check exception.
    public static let mce = CPUIDFeature("mce", leaf: 0x1, subleaf: 0, .edx, bit: 7)
    /// `apic`: on-chip local APIC.
    public static let apic = CPUIDFeature("apic", leaf: 0x1, subleaf: 0, .edx, bit: 9)
    /// `sep`: SYSENTER and SYSEXIT.
    public static let sep = CPUIDFeature("sep", leaf: 0x1, subleaf: 0, .edx, bit: 11)
    /// `mtrr`: memory type range registers.
    public static let mtrr = CPUIDFeature("mtrr", leaf: 0x1, subleaf: 0, .edx, bit: 12)
    /// `mca`: machine-check architecture.
    public static let mca = CPUIDFeature("mca", leaf: 0x1, subleaf: 0, .edx, bit: 14)
    /// `pat`: page attribute table.
    public static let pat = CPUIDFeature("pat", leaf: 0x1, subleaf: 0, .edx, bit: 16)
    /// `pse36`: 36-bit page size extension.
    public static let pse36 = CPUIDFeature("pse36", leaf: 0x1, subleaf: 0, .edx, bit: 17)
    /// `pn`: processor serial number.
    public static let pn = CPUIDFeature("pn", leaf: 0x1, subleaf: 0, .edx, bit: 18)
    /// `clflush`: CLFLUSH.
    public static let clflush = CPUIDFeature("clflush", leaf: 0x1, subleaf: 0, .edx, bit: 19)
    /// `dts`: debug store.
    public static let dts = CPUIDFeature("dts", leaf: 0x1, subleaf: 0, .edx, bit: 21)
    /// `acpi`: thermal monitor and clock control MSRs.
    public static let acpi = CPUIDFeature("acpi", leaf: 0x1, subleaf: 0, .edx, bit: 22)
    /// `mmx`: MMX.
    public static let mmx = CPUIDFeature("mmx", leaf: 0x1, subleaf: 0, .edx, bit: 23)
    /// `ss`: self snoop.
    public static let ss = CPUIDFeature("ss", leaf: 0x1, subleaf: 0, .edx, bit: 27)
    /// `ht`: more than one logical processor per package (``CPUIDBuilder`` sets it from the topology).
    public static let ht = CPUIDFeature("ht", leaf: 0x1, subleaf: 0, .edx, bit: 28)
    /// `tm`: thermal monitor.
    public static let tm = CPUIDFeature("tm", leaf: 0x1, subleaf: 0, .edx, bit: 29)
    /// `pbe`: pending break enable.
    public static let pbe = CPUIDFeature("pbe", leaf: 0x1, subleaf: 0, .edx, bit: 31)

    // MARK: Leaf 7 sub-leaf 0 EBX

    /// `fsgsbase`: RDFSBASE, WRFSBASE, RDGSBASE and WRGSBASE.
    public static let fsgsbase = CPUIDFeature("fsgsbase", leaf: 0x7, subleaf: 0, .ebx, bit: 0)
    /// `tsc_adjust`: the IA32_TSC_ADJUST MSR.
    public static let tscAdjust = CPUIDFeature("tsc_adjust", leaf: 0x7, subleaf: 0, .ebx, bit: 1)
    /// `sgx`: Software Guard Extensions.
    public static let sgx = CPUIDFeature("sgx", leaf: 0x7, subleaf: 0, .ebx, bit: 2)
    /// `bmi1`: bit manipulation instructions, group 1.
    public static let bmi1 = CPUIDFeature("bmi1", leaf: 0x7, subleaf: 0, .ebx, bit: 3)
    /// `hle`: hardware lock elision.
    public static let hle = CPUIDFeature("hle", leaf: 0x7, subleaf: 0, .ebx, bit: 4)
    /// `avx2`: AVX2 (needs AVX).
    public static let avx2 = CPUIDFeature("avx2", leaf: 0x7, subleaf: 0, .ebx, bit: 5)
    /// `smep`: supervisor-mode execution prevention.
    public static let smep = CPUIDFeature("smep", leaf: 0x7, subleaf: 0, .ebx, bit: 7)
    /// `bmi2`: bit manipulation instructions, group 2.
    public static let bmi2 = CPUIDFeature("bmi2", leaf: 0x7, subleaf: 0, .ebx, bit: 8)
    /// `erms`: enhanced REP MOVSB and STOSB.
    public static let erms = CPUIDFeature("erms", leaf: 0x7, subleaf: 0, .ebx, bit: 9)
    /// `invpcid`: INVPCID.
    public static let invpcid = CPUIDFeature("invpcid", leaf: 0x7, subleaf: 0, .ebx, bit: 10)
    /// `rtm`: restricted transactional memory.
    public static let rtm = CPUIDFeature("rtm", leaf: 0x7, subleaf: 0, .ebx, bit: 11)
    /// `cqm`: cache QoS monitoring.
    public static let cqm = CPUIDFeature("cqm", leaf: 0x7, subleaf: 0, .ebx, bit: 12)
    /// `mpx`: memory protection extensions (needs XSAVE).
    public static let mpx = CPUIDFeature("mpx", leaf: 0x7, subleaf: 0, .ebx, bit: 14)
    /// `rdt_a`: resource director technology allocation.
    public static let rdtA = CPUIDFeature("rdt_a", leaf: 0x7, subleaf: 0, .ebx, bit: 15)
    /// `avx512f`: AVX-512 foundation (needs AVX).
    public static let avx512f = CPUIDFeature("avx512f", leaf: 0x7, subleaf: 0, .ebx, bit: 16)
    /// `avx512dq`: AVX-512 doubleword and quadword instructions.
    public static let avx512dq = CPUIDFeature("avx512dq", leaf: 0x7, subleaf: 0, .ebx, bit: 17)
    /// `rdseed`: RDSEED.
    public static let rdseed = CPUIDFeature("rdseed", leaf: 0x7, subleaf: 0, .ebx, bit: 18)
    /// `adx`: ADCX and ADOX.
    public static let adx = CPUIDFeature("adx", leaf: 0x7, subleaf: 0, .ebx, bit: 19)
    /// `smap`: supervisor-mode access prevention.
    public static let smap = CPUIDFeature("smap", leaf: 0x7, subleaf: 0, .ebx, bit: 20)
    /// `avx512ifma`: AVX-512 integer fused multiply-add.
    public static let avx512ifma = CPUIDFeature("avx512ifma", leaf: 0x7, subleaf: 0, .ebx, bit: 21)
    /// `clflushopt`: CLFLUSHOPT.
    public static let clflushopt = CPUIDFeature("clflushopt", leaf: 0x7, subleaf: 0, .ebx, bit: 23)
    /// `clwb`: CLWB.
    public static let clwb = CPUIDFeature("clwb", leaf: 0x7, subleaf: 0, .ebx, bit: 24)
    /// `intel_pt`: Intel processor trace.
    public static let intelPt = CPUIDFeature("intel_pt", leaf: 0x7, subleaf: 0, .ebx, bit: 25)
    /// `avx512pf`: AVX-512 prefetch.
    public static let avx512pf = CPUIDFeature("avx512pf", leaf: 0x7, subleaf: 0, .ebx, bit: 26)
    /// `avx512er`: AVX-512 exponential and reciprocal.
    public static let avx512er = CPUIDFeature("avx512er", leaf: 0x7, subleaf: 0, .ebx, bit: 27)
    /// `avx512cd`: AVX-512 conflict detection.
    public static let avx512cd = CPUIDFeature("avx512cd", leaf: 0x7, subleaf: 0, .ebx, bit: 28)
    /// `sha_ni`: SHA-1 and SHA-256 instructions.
    public static let shaNi = CPUIDFeature("sha_ni", leaf: 0x7, subleaf: 0, .ebx, bit: 29)
    /// `avx512bw`: AVX-512 byte and word instructions.
    public static let avx512bw = CPUIDFeature("avx512bw", leaf: 0x7, subleaf: 0, .ebx, bit: 30)
    /// `avx512vl`: AVX-512 vector length extensions.
    public static let avx512vl = CPUIDFeature("avx512vl", leaf: 0x7, subleaf: 0, .ebx, bit: 31)

    // MARK: Leaf 7 sub-leaf 0 ECX

    /// `avx512vbmi`: AVX-512 vector bit manipulation.
    public static let avx512vbmi = CPUIDFeature("avx512vbmi", leaf: 0x7, subleaf: 0, .ecx, bit: 1)
    /// `umip`: user-mode instruction prevention.
    public static let umip = CPUIDFeature("umip", leaf: 0x7, subleaf: 0, .ecx, bit: 2)
    /// `pku`: protection keys for user pages (needs XSAVE).
    public static let pku = CPUIDFeature("pku", leaf: 0x7, subleaf: 0, .ecx, bit: 3)
    /// `ospke`: CR4.PKE as the guest set it (KVM fills it in at run time).
    public static let ospke = CPUIDFeature("ospke", leaf: 0x7, subleaf: 0, .ecx, bit: 4)
    /// `waitpkg`: UMONITOR, UMWAIT and TPAUSE.
    public static let waitpkg = CPUIDFeature("waitpkg", leaf: 0x7, subleaf: 0, .ecx, bit: 5)
    /// `avx512_vbmi2`: AVX-512 vector bit manipulation 2.
    public static let avx512Vbmi2 = CPUIDFeature("avx512_vbmi2", leaf: 0x7, subleaf: 0, .ecx, bit: 6)
    /// `shstk`: CET shadow stacks.
    public static let shstk = CPUIDFeature("shstk", leaf: 0x7, subleaf: 0, .ecx, bit: 7)
    /// `gfni`: Galois field instructions.
    public static let gfni = CPUIDFeature("gfni", leaf: 0x7, subleaf: 0, .ecx, bit: 8)
    /// `vaes`: vector AES (needs AVX).
    public static let vaes = CPUIDFeature("vaes", leaf: 0x7, subleaf: 0, .ecx, bit: 9)
    /// `vpclmulqdq`: vector carry-less multiplication (needs AVX).
    public static let vpclmulqdq = CPUIDFeature("vpclmulqdq", leaf: 0x7, subleaf: 0, .ecx, bit: 10)
    /// `avx512_vnni`: AVX-512 vector neural network instructions.
    public static let avx512Vnni = CPUIDFeature("avx512_vnni", leaf: 0x7, subleaf: 0, .ecx, bit: 11)
    /// `avx512_bitalg`: AVX-512 bit algorithms.
    public static let avx512Bitalg = CPUIDFeature("avx512_bitalg", leaf: 0x7, subleaf: 0, .ecx, bit: 12)
    /// `tme`: total memory encryption.
    public static let tme = CPUIDFeature("tme", leaf: 0x7, subleaf: 0, .ecx, bit: 13)
    /// `avx512_vpopcntdq`: AVX-512 vector population count.
    public static let avx512Vpopcntdq = CPUIDFeature("avx512_vpopcntdq", leaf: 0x7, subleaf: 0, .ecx, bit: 14)
    /// `la57`: 5-level paging.
    public static let la57 = CPUIDFeature("la57", leaf: 0x7, subleaf: 0, .ecx, bit: 16)
    /// `rdpid`: RDPID.
    public static let rdpid = CPUIDFeature("rdpid", leaf: 0x7, subleaf: 0, .ecx, bit: 22)
    /// `bus_lock_detect`: bus lock detection.
    public static let busLockDetect = CPUIDFeature("bus_lock_detect", leaf: 0x7, subleaf: 0, .ecx, bit: 24)
    /// `cldemote`: CLDEMOTE.
    public static let cldemote = CPUIDFeature("cldemote", leaf: 0x7, subleaf: 0, .ecx, bit: 25)
    /// `movdiri`: MOVDIRI.
    public static let movdiri = CPUIDFeature("movdiri", leaf: 0x7, subleaf: 0, .ecx, bit: 27)
    /// `movdir64b`: MOVDIR64B.
    public static let movdir64b = CPUIDFeature("movdir64b", leaf: 0x7, subleaf: 0, .ecx, bit: 28)
    /// `enqcmd`: ENQCMD and ENQCMDS.
    public static let enqcmd = CPUIDFeature("enqcmd", leaf: 0x7, subleaf: 0, .ecx, bit: 29)
    /// `sgx_lc`: SGX launch control.
    public static let sgxLc = CPUIDFeature("sgx_lc", leaf: 0x7, subleaf: 0, .ecx, bit: 30)

    // MARK: Leaf 7 sub-leaf 0 EDX

    /// `avx512_4vnniw`: AVX-512 4-iteration vector neural network instructions.
    public static let avx512_4vnniw = CPUIDFeature("avx512_4vnniw", leaf: 0x7, subleaf: 0, .edx, bit: 2)
    /// `avx512_4fmaps`: AVX-512 4-iteration multiply-accumulate, single precision.
    public static let avx512_4fmaps = CPUIDFeature("avx512_4fmaps", leaf: 0x7, subleaf: 0, .edx, bit: 3)
    /// `fsrm`: fast short REP MOV.
    public static let fsrm = CPUIDFeature("fsrm", leaf: 0x7, subleaf: 0, .edx, bit: 4)
    /// `avx512_vp2intersect`: AVX-512 VP2INTERSECT.
    public static let avx512Vp2intersect = CPUIDFeature("avx512_vp2intersect", leaf: 0x7, subleaf: 0, .edx, bit: 8)
    /// `md_clear`: VERW clears CPU buffers.
    public static let mdClear = CPUIDFeature("md_clear", leaf: 0x7, subleaf: 0, .edx, bit: 10)
    /// `serialize`: SERIALIZE.
    public static let serialize = CPUIDFeature("serialize", leaf: 0x7, subleaf: 0, .edx, bit: 14)
    /// `tsxldtrk`: TSX suspend load address tracking.
    public static let tsxldtrk = CPUIDFeature("tsxldtrk", leaf: 0x7, subleaf: 0, .edx, bit: 16)
    /// `pconfig`: PCONFIG.
    public static let pconfig = CPUIDFeature("pconfig", leaf: 0x7, subleaf: 0, .edx, bit: 18)
    /// `arch_lbr`: architectural last branch records.
    public static let archLbr = CPUIDFeature("arch_lbr", leaf: 0x7, subleaf: 0, .edx, bit: 19)
    /// `ibt`: CET indirect branch tracking.
    public static let ibt = CPUIDFeature("ibt", leaf: 0x7, subleaf: 0, .edx, bit: 20)
    /// `amx_bf16`: AMX bfloat16.
    public static let amxBf16 = CPUIDFeature("amx_bf16", leaf: 0x7, subleaf: 0, .edx, bit: 22)
    /// `avx512_fp16`: AVX-512 half precision.
    public static let avx512Fp16 = CPUIDFeature("avx512_fp16", leaf: 0x7, subleaf: 0, .edx, bit: 23)
    /// `amx_tile`: AMX tiles.
    public static let amxTile = CPUIDFeature("amx_tile", leaf: 0x7, subleaf: 0, .edx, bit: 24)
    /// `amx_int8`: AMX 8-bit integers.
    public static let amxInt8 = CPUIDFeature("amx_int8", leaf: 0x7, subleaf: 0, .edx, bit: 25)
    /// `spec_ctrl`: IBRS and IBPB (the IA32_SPEC_CTRL MSR; Linux does not show it).
    public static let specCtrl = CPUIDFeature("spec_ctrl", leaf: 0x7, subleaf: 0, .edx, bit: 26)
    /// `intel_stibp`: single thread indirect branch predictors (Linux does not show it).
    public static let intelStibp = CPUIDFeature("intel_stibp", leaf: 0x7, subleaf: 0, .edx, bit: 27)
    /// `flush_l1d`: the L1D flush MSR.
    public static let flushL1d = CPUIDFeature("flush_l1d", leaf: 0x7, subleaf: 0, .edx, bit: 28)
    /// `arch_capabilities`: the IA32_ARCH_CAPABILITIES MSR (0x10a).
    public static let archCapabilities = CPUIDFeature("arch_capabilities", leaf: 0x7, subleaf: 0, .edx, bit: 29)
    /// `core_capabilities`: the IA32_CORE_CAPABILITIES MSR (Linux does not show it).
    public static let coreCapabilities = CPUIDFeature("core_capabilities", leaf: 0x7, subleaf: 0, .edx, bit: 30)
    /// `spec_ctrl_ssbd`: speculative store bypass disable (Linux does not show it).
    public static let specCtrlSsbd = CPUIDFeature("spec_ctrl_ssbd", leaf: 0x7, subleaf: 0, .edx, bit: 31)

    // MARK: Leaf 7 sub-leaf 1 EAX

    /// `avx_vnni`: VEX-encoded vector neural network instructions (needs AVX).
    public static let avxVnni = CPUIDFeature("avx_vnni", leaf: 0x7, subleaf: 1, .eax, bit: 4)
    /// `avx512_bf16`: AVX-512 bfloat16.
    public static let avx512Bf16 = CPUIDFeature("avx512_bf16", leaf: 0x7, subleaf: 1, .eax, bit: 5)

    // MARK: Leaf 0xD sub-leaf 1 EAX

    /// `xsaveopt`: XSAVEOPT (needs XSAVE).
    public static let xsaveopt = CPUIDFeature("xsaveopt", leaf: 0xd, subleaf: 1, .eax, bit: 0)
    /// `xsavec`: XSAVEC (needs XSAVE).
    public static let xsavec = CPUIDFeature("xsavec", leaf: 0xd, subleaf: 1, .eax, bit: 1)
    /// `xgetbv1`: XGETBV with ECX = 1 (needs XSAVE).
    public static let xgetbv1 = CPUIDFeature("xgetbv1", leaf: 0xd, subleaf: 1, .eax, bit: 2)
    /// `xsaves`: XSAVES and XRSTORS (needs XSAVE).
    public static let xsaves = CPUIDFeature("xsaves", leaf: 0xd, subleaf: 1, .eax, bit: 3)
    /// `xfd`: extended feature disable (needs XSAVES and XGETBV1).
    public static let xfd = CPUIDFeature("xfd", leaf: 0xd, subleaf: 1, .eax, bit: 4)

    // MARK: Leaf 0x8000_0001 ECX

    /// `lahf_lm`: LAHF and SAHF in 64-bit mode.
    public static let lahfLm = CPUIDFeature("lahf_lm", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 0)
    /// `cmp_legacy`: AMD's core multi-processing legacy mode.
    public static let cmpLegacy = CPUIDFeature("cmp_legacy", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 1)
    /// `svm`: SVM (nested virtualization on AMD).
    public static let svm = CPUIDFeature("svm", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 2)
    /// `extapic`: extended APIC space.
    public static let extapic = CPUIDFeature("extapic", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 3)
    /// `cr8_legacy`: CR8 in 32-bit mode.
    public static let cr8Legacy = CPUIDFeature("cr8_legacy", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 4)
    /// `abm`: advanced bit manipulation (LZCNT).
    public static let abm = CPUIDFeature("abm", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 5)
    /// `sse4a`: SSE4a.
    public static let sse4a = CPUIDFeature("sse4a", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 6)
    /// `misalignsse`: misaligned SSE mode.
    public static let misalignsse = CPUIDFeature("misalignsse", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 7)
    /// `3dnowprefetch`: PREFETCH and PREFETCHW.
    public static let threeDNowPrefetch = CPUIDFeature("3dnowprefetch", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 8)
    /// `osvw`: OS-visible workarounds.
    public static let osvw = CPUIDFeature("osvw", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 9)
    /// `ibs`: instruction-based sampling.
    public static let ibs = CPUIDFeature("ibs", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 10)
    /// `xop`: AMD's extended operations (needs AVX).
    public static let xop = CPUIDFeature("xop", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 11)
    /// `skinit`: SKINIT and STGI.
    public static let skinit = CPUIDFeature("skinit", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 12)
    /// `wdt`: watchdog timer.
    public static let wdt = CPUIDFeature("wdt", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 13)
    /// `lwp`: lightweight profiling.
    public static let lwp = CPUIDFeature("lwp", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 15)
    /// `fma4`: 4-operand fused multiply-add (needs AVX).
    public static let fma4 = CPUIDFeature("fma4", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 16)
    /// `tce`: translation cache extension.
    public static let tce = CPUIDFeature("tce", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 17)
    /// `nodeid_msr`: the node ID MSR.
    public static let nodeidMsr = CPUIDFeature("nodeid_msr", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 19)
    /// `tbm`: trailing bit manipulation.
    public static let tbm = CPUIDFeature("tbm", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 21)
    /// `topoext`: topology extension leaves.
    public static let topoext = CPUIDFeature("topoext", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 22)
    /// `perfctr_core`: core performance counter extensions.
    public static let perfctrCore = CPUIDFeature("perfctr_core", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 23)
    /// `perfctr_nb`: northbridge performance counters.
    public static let perfctrNb = CPUIDFeature("perfctr_nb", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 24)
    /// `bpext`: data breakpoint extension.
    public static let bpext = CPUIDFeature("bpext", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 26)
    /// `ptsc`: performance time-stamp counter.
    public static let ptsc = CPUIDFeature("ptsc", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 27)
    /// `perfctr_llc`: last-level cache performance counters.
    public static let perfctrLlc = CPUIDFeature("perfctr_llc", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 28)
    /// `mwaitx`: MONITORX and MWAITX.
    public static let mwaitx = CPUIDFeature("mwaitx", leaf: 0x8000_0001, subleaf: 0, .ecx, bit: 29)

    // MARK: Leaf 0x8000_0001 EDX

    /// `nx`: no-execute pages (KVM then refuses EFER.NX).
    public static let nx = CPUIDFeature("nx", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 20)
    /// `mmxext`: AMD's MMX extensions.
    public static let mmxext = CPUIDFeature("mmxext", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 22)
    /// `fxsr_opt`: FXSAVE and FXRSTOR optimisations.
    public static let fxsrOpt = CPUIDFeature("fxsr_opt", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 25)
    /// `pdpe1gb`: 1 GiB pages.
    public static let pdpe1gb = CPUIDFeature("pdpe1gb", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 26)
    /// `rdtscp`: RDTSCP.
    public static let rdtscp = CPUIDFeature("rdtscp", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 27)
    /// `3dnowext`: AMD's 3DNow! extensions.
    public static let threeDNowExt = CPUIDFeature("3dnowext", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 30)
    /// `3dnow`: 3DNow!.
    public static let threeDNow = CPUIDFeature("3dnow", leaf: 0x8000_0001, subleaf: 0, .edx, bit: 31)

    // MARK: KVM feature leaf 0x4000_0001 EAX

    /// `kvmclock`: kvmclock through the old MSRs 0x11 and 0x12 (`KVM_FEATURE_CLOCKSOURCE`).
    public static let kvmClock = CPUIDFeature("kvmclock", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 0)
    /// `kvm_nop_io_delay`: no delay needed after port I/O (`KVM_FEATURE_NOP_IO_DELAY`).
    public static let kvmNopIoDelay = CPUIDFeature("kvm_nop_io_delay", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 1)
    /// `kvmclock2`: kvmclock through the MSRs 0x4b564d00 and 0x4b564d01 (`KVM_FEATURE_CLOCKSOURCE2`).
    public static let kvmClock2 = CPUIDFeature("kvmclock2", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 3)
    /// `kvm_async_pf`: asynchronous page faults (`KVM_FEATURE_ASYNC_PF`).
    public static let kvmAsyncPf = CPUIDFeature("kvm_async_pf", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 4)
    /// `kvm_steal_time`: steal-time accounting (`KVM_FEATURE_STEAL_TIME`).
    public static let kvmStealTime = CPUIDFeature("kvm_steal_time", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 5)
    /// `kvm_pv_eoi`: paravirtual end of interrupt (`KVM_FEATURE_PV_EOI`).
    public static let kvmPvEoi = CPUIDFeature("kvm_pv_eoi", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 6)
    /// `kvm_pv_unhalt`: paravirtual spinlock kick (`KVM_FEATURE_PV_UNHALT`).
    public static let kvmPvUnhalt = CPUIDFeature("kvm_pv_unhalt", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 7)
    /// `kvm_pv_tlb_flush`: paravirtual TLB flush (`KVM_FEATURE_PV_TLB_FLUSH`).
    public static let kvmPvTlbFlush = CPUIDFeature("kvm_pv_tlb_flush", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 9)
    /// `kvm_async_pf_vmexit`: asynchronous page faults delivered as VM exits to a nested hypervisor (`KVM_FEATURE_ASYNC_PF_VMEXIT`).
    public static let kvmAsyncPfVmexit = CPUIDFeature(
        "kvm_async_pf_vmexit", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 10)
    /// `kvm_pv_send_ipi`: paravirtual IPIs (`KVM_FEATURE_PV_SEND_IPI`).
    public static let kvmPvSendIpi = CPUIDFeature("kvm_pv_send_ipi", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 11)
    /// `kvm_poll_control`: host-side halt polling control (`KVM_FEATURE_POLL_CONTROL`).
    public static let kvmPollControl = CPUIDFeature("kvm_poll_control", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 12)
    /// `kvm_pv_sched_yield`: paravirtual yield to a preempted vCPU (`KVM_FEATURE_PV_SCHED_YIELD`).
    public static let kvmPvSchedYield = CPUIDFeature("kvm_pv_sched_yield", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 13)
    /// `kvm_async_pf_int`: "page ready" notifications as interrupts (`KVM_FEATURE_ASYNC_PF_INT`).
    public static let kvmAsyncPfInt = CPUIDFeature("kvm_async_pf_int", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 14)
    /// `kvm_msi_ext_dest_id`: extended destination IDs in MSIs (`KVM_FEATURE_MSI_EXT_DEST_ID`).
    public static let kvmMsiExtDestId = CPUIDFeature(
        "kvm_msi_ext_dest_id", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 15)
    /// `kvm_hc_map_gpa_range`: the `KVM_HC_MAP_GPA_RANGE` hypercall (`KVM_FEATURE_HC_MAP_GPA_RANGE`).
    public static let kvmHcMapGpaRange = CPUIDFeature(
        "kvm_hc_map_gpa_range", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 16)
    /// `kvm_migration_control`: the migration control MSR (`KVM_FEATURE_MIGRATION_CONTROL`).
    public static let kvmMigrationControl = CPUIDFeature(
        "kvm_migration_control", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 17)
    /// `kvmclock_stable_bit`: kvmclock's stable bit is meaningful (`KVM_FEATURE_CLOCKSOURCE_STABLE_BIT`).
    public static let kvmClockStableBit = CPUIDFeature(
        "kvmclock_stable_bit", leaf: 0x4000_0001, subleaf: 0, .eax, bit: 24)
}
