import KVM

/// A CPUID template for Linux guests: features to hide from the guest, cleared from a vCPU's CPUID
/// together with every feature that depends on them.
///
/// Apply it last, after ``CPUIDBuilder/entries(from:apicID:topology:template:)`` has set the
/// per-vCPU leaves (the builder applies it itself when given one), so that no later step sets a
/// hidden bit again (the builder sets `hypervisor` and `ht`):
///
/// ```swift
/// let template = try CPUIDTemplate(hidingNames: "cx16,xsave")  // from `--cpuid-hide cx16,xsave`
/// let entries = try CPUIDBuilder.entries(
///     from: kvm.supportedCPUID(), apicID: 0, topology: CPUTopology(coresPerPackage: 1), template: template)
/// try vcpu.setCPUID(entries)
/// ```
///
/// Hiding a feature clears, in ``apply(to:)``:
/// - its bit, and the bits of the features that depend on it, transitively (``effectiveHidden``).
///   The dependencies are Linux's own (`arch/x86/kernel/cpu/cpuid-deps.c`, the table the kernel
///   uses when it turns a feature off) among the features of ``CPUIDFeature/all``, plus six that
///   the table leaves implicit: `osxsave` on `xsave` and `ospke` on `pku` (the bits report CR4
///   state that cannot be enabled without the feature), `f16c`, `xop` and `fma4` on `avx` (they
///   are VEX- or XOP-encoded and need the AVX register state), and `amx_bf16` and `amx_int8` on
///   `amx_tile`. So `xsave` takes `osxsave`, `avx`, `xsaveopt`, `xsavec`, `xsaves`, `xgetbv1`,
///   `pku`, `mpx` and everything that needs them: `avx2`, `fma`, `f16c`, every `avx512*`,
///   `vaes`, `vpclmulqdq`, `avx_vnni`, `xfd`, the AMX bits, `shstk`, `enqcmd`.
/// - the XSAVE state components that belong to a hidden feature (the mapping of Linux's
///   `arch/x86/kernel/fpu/xstate.c`): their bit in leaf 0xD sub-leaf 0 EAX (XCR0 components:
///   AVX 2, MPX 3–4, AVX-512 5–7, PKRU 9, AMX 17–18) or sub-leaf 1 ECX (IA32_XSS components:
///   processor trace 8, PASID 10, CET 11–12, architectural LBRs 15), and their own sub-leaf of
///   leaf 0xD, which is zeroed. KVM derives the XCR0 values a guest may set from leaf 0xD, so this
///   is what keeps a hidden `avx` from being enabled through XSETBV anyway. Hiding `xsaves` clears
///   all of sub-leaf 1 ECX and EDX (no supervisor state without XSAVES).
/// - with `xsave` hidden, every sub-leaf of leaf 0xD: all four registers read 0, as on a CPU
///   without XSAVE.
///
/// Every other bit and every other entry is left as it was; no entry is added or removed. Applying
/// a template twice gives what applying it once gives.
///
/// A template can only name features of the catalogue (``CPUIDFeature/all``), which leaves out the
/// x86-64 baseline (`lm`, `sse2` …): no template can make a 64-bit kernel unbootable that way.
///
/// A template changes the table KVM is given (`setCPUID(_:)`); what the guest's CPUID instruction
/// returns is KVM's answer from that table. Hardware KVM answers from the table; the nested
/// `kvm_pvm` only in part (see ``nestedKVMEmulatorWorkaround``).
public struct CPUIDTemplate: Hashable, Sendable {
    /// The features asked to be hidden (without the ones that follow from them:
    /// see ``effectiveHidden``).
    public let hidden: Set<CPUIDFeature>

    /// A template hiding `features` (and what depends on them).
    public init(hiding features: some Sequence<CPUIDFeature>) {
        hidden = Set(features)
    }

    /// A template hiding the features named in `list`, a comma-separated list of
    /// ``CPUIDFeature/name``s as a command line such as `--cpuid-hide cx16,xsave` gives it. Items
    /// are read as ``CPUIDFeature/init(named:)`` reads a name: without regard to case, white space
    /// around them ignored, `-` read as `_`. A name given twice counts once.
    ///
    /// - Throws: ``CPUIDTemplateError/emptyList`` for a list with no items (nothing but white
    ///   space); ``CPUIDTemplateError/emptyItem(position:)`` for an empty item (`cx16,,xsave`, or a
    ///   trailing comma); ``CPUIDTemplateError/notHideable(_:)`` for a feature of the x86-64
    ///   baseline (`lm`, `sse2` …); ``CPUIDTemplateError/unknownFeature(_:suggestion:)`` for any
    ///   other name outside the catalogue, with the catalogue's closest name when exactly one is
    ///   close (a typo or two away).
    public init(hidingNames list: String) throws(CPUIDTemplateError) {
        guard !list.trimmingWhiteSpace().isEmpty else { throw .emptyList }
        var features: [CPUIDFeature] = []
        for (index, item) in list.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let name = CPUIDFeature.normalised(String(item))
            guard !name.isEmpty else { throw .emptyItem(position: index + 1) }
            if let feature = CPUIDFeature.byName[name] {
                features.append(feature)
            } else if CPUIDFeature.baseline[name] != nil {
                throw .notHideable(name)
            } else {
                throw .unknownFeature(name, suggestion: Self.suggestion(for: name))
            }
        }
        self.init(hiding: features)
    }

    /// What is hidden once dependencies are followed: ``hidden`` and, transitively, every feature
    /// of the catalogue that depends on one of them (see the type's documentation for the table).
    public var effectiveHidden: Set<CPUIDFeature> {
        var result = hidden
        var changed = true
        while changed {
            changed = false
            for dependency in Self.dependencies where result.contains(dependency.requires) {
                if result.insert(dependency.feature).inserted { changed = true }
            }
        }
        return result
    }

    /// `entries` with the bits of ``effectiveHidden`` cleared, their XSAVE state components
    /// withdrawn from leaf 0xD, and leaf 0xD emptied when `xsave` is hidden (see the type's
    /// documentation). Everything else is unchanged, and the result has the same entries in the same
    /// order. Idempotent.
    ///
    /// Run it after ``CPUIDBuilder/entries(from:apicID:topology:template:)``, on each vCPU's
    /// entries (or pass the template to the builder, which applies it last).
    public func apply(to entries: [CPUIDEntry]) -> [CPUIDEntry] {
        let hiddenFeatures = effectiveHidden
        if hiddenFeatures.isEmpty { return entries }
        var masks: [RegisterKey: UInt32] = [:]
        for feature in hiddenFeatures {
            masks[RegisterKey(feature.leaf, feature.subleaf, feature.register), default: 0] |= feature.mask
        }
        for component in Self.stateComponents where hiddenFeatures.contains(component.feature) {
            masks[RegisterKey(0xd, component.subleaf, component.register), default: 0] |= component.mask
        }
        if hiddenFeatures.contains(.xsaves) {
            masks[RegisterKey(0xd, 1, .ecx)] = ~0
            masks[RegisterKey(0xd, 1, .edx)] = ~0
        }
        let emptyXSAVELeaf = hiddenFeatures.contains(.xsave)
        let componentsBefore = Self.stateComponentBits(entries)
        var result = entries.map { entry in
            var entry = entry
            if emptyXSAVELeaf && entry.function == 0xd {
                (entry.eax, entry.ebx, entry.ecx, entry.edx) = (0, 0, 0, 0)
                return entry
            }
            let subleaf = entry.hasSignificantIndex ? entry.index : 0
            for register in CPUIDFeature.Register.allCases {
                if let mask = masks[RegisterKey(entry.function, subleaf, register)] { entry[register] &= ~mask }
            }
            return entry
        }
        // A state component no longer enumerated loses its own sub-leaf (size, offset, alignment).
        let withdrawn = componentsBefore & ~Self.stateComponentBits(result)
        if withdrawn != 0 {
            for i in result.indices {
                let entry = result[i]
                guard entry.function == 0xd, entry.hasSignificantIndex, (2..<64).contains(entry.index),
                    withdrawn & (1 << UInt64(entry.index)) != 0
                else { continue }
                (result[i].eax, result[i].ebx, result[i].ecx, result[i].edx) = (0, 0, 0, 0)
            }
        }
        return result
    }

    /// `cx16` and `xsave` hidden: the instructions the nested KVM of the machines this package is
    /// developed on cannot emulate.
    ///
    /// There KVM is itself nested (the `kvm_pvm` module, no VMX or SVM) and runs guest code through
    /// its instruction emulator, which lacks `lock cmpxchg16b` and `xrstor`. Measured with QEMU, a
    /// Linux guest stops on the first in SLUB's set-up (`KVM internal error. Suberror: 1`,
    /// emulation failure) and, with `cx16` hidden, on the second when the FPU code restores XSAVE
    /// state. With both hidden (which also hides `avx`, the XSAVE variants and everything that needs
    /// them) a kernel gets further, but still not to user space: its own int3 self-test stops it
    /// next, and that is no CPUID feature. So this template is for getting a kernel further on such
    /// a host (to test a VMM's boot path up to that point); it cannot boot Linux there.
    ///
    /// `kvm_pvm` honours a vCPU's CPUID table only in part (measured with this package's tests): it
    /// takes `cx16` away, but shows the guest the hardware's leaf 1 ECX bits that
    /// `KVM_GET_SUPPORTED_CPUID` does not offer (`xsave`, `avx`, `fma`, `f16c` …), and leaf 1 EDX,
    /// leaf 7 and leaf 0xD, whatever the table says. There the template keeps the guest from
    /// `cmpxchg16b`, but the kernel still sees XSAVE: its own `noxsave` command-line parameter is
    /// what takes XSAVE away on that host.
    ///
    /// On a host with hardware KVM (VMX or SVM) no template is needed: the guest runs natively, and
    /// hiding these features only makes it slower.
    public static let nestedKVMEmulatorWorkaround = CPUIDTemplate(hiding: [.cx16, .xsave])

    /// One register of one CPUID (sub-)leaf.
    struct RegisterKey: Hashable {
        let leaf: UInt32
        let subleaf: UInt32
        let register: CPUIDFeature.Register

        init(_ leaf: UInt32, _ subleaf: UInt32, _ register: CPUIDFeature.Register) {
            self.leaf = leaf
            self.subleaf = subleaf
            self.register = register
        }
    }

    /// "`feature` needs `requires`": hiding `requires` hides `feature`.
    struct Dependency: Sendable {
        let feature: CPUIDFeature
        let requires: CPUIDFeature
    }

    /// Linux's `cpuid_deps` (arch/x86/kernel/cpu/cpuid-deps.c) among the catalogue's features,
    /// then the six dependencies it leaves implicit (see the type's documentation). Entries whose
    /// prerequisite is in the x86-64 baseline (`sse2`, `fxsr`) are left out: that cannot be hidden.
    static let dependencies: [Dependency] = {
        let pairs: [(CPUIDFeature, CPUIDFeature)] = [
            // XSAVE and its variants.
            (.xsaveopt, .xsave), (.xsavec, .xsave), (.xsaves, .xsave), (.avx, .xsave), (.pku, .xsave),
            (.mpx, .xsave), (.xgetbv1, .xsave),
            (.mmxext, .mmx),
            // AVX and AVX-512.
            (.avxVnni, .avx), (.fma, .avx), (.vaes, .avx), (.vpclmulqdq, .avx), (.avx2, .avx), (.avx512f, .avx),
            (.avx512ifma, .avx512f), (.avx512pf, .avx512f), (.avx512er, .avx512f), (.avx512cd, .avx512f),
            (.avx512dq, .avx512f), (.avx512bw, .avx512f), (.avx512vl, .avx512f), (.avx512vbmi, .avx512f),
            (.avx512Vbmi2, .avx512vl), (.avx512Vnni, .avx512vl), (.avx512Bitalg, .avx512vl),
            (.avx512_4vnniw, .avx512f), (.avx512_4fmaps, .avx512f), (.avx512Vpopcntdq, .avx512f),
            (.avx512Vp2intersect, .avx512vl), (.avx512Bf16, .avx512vl), (.avx512Fp16, .avx512bw),
            // Supervisor state, SGX, AMX.
            (.enqcmd, .xsaves), (.sgxLc, .sgx), (.xfd, .xsaves), (.xfd, .xgetbv1), (.amxTile, .xfd),
            (.shstk, .xsaves),
            // Implicit in Linux's table.
            (.osxsave, .xsave), (.ospke, .pku), (.f16c, .avx), (.xop, .avx), (.fma4, .avx),
            (.amxBf16, .amxTile), (.amxInt8, .amxTile),
        ]
        return pairs.map { Dependency(feature: $0.0, requires: $0.1) }
    }()

    /// An XSAVE state component's enumeration bit in leaf 0xD and the feature it belongs to.
    struct StateComponent: Sendable {
        let feature: CPUIDFeature
        /// 0: an XCR0 (user) component, enumerated in sub-leaf 0 EAX; 1: an IA32_XSS (supervisor)
        /// component, enumerated in sub-leaf 1 ECX.
        let subleaf: UInt32
        let component: Int

        var register: CPUIDFeature.Register { subleaf == 0 ? .eax : .ecx }
        var mask: UInt32 { 1 << UInt32(component) }
    }

    /// The components below 32 whose feature the catalogue has (Linux's `xsave_cpuid_features`).
    static let stateComponents: [StateComponent] = {
        let user: [(CPUIDFeature, [Int])] = [
            (.avx, [2]), (.mpx, [3, 4]), (.avx512f, [5, 6, 7]), (.pku, [9]), (.amxTile, [17, 18]),
        ]
        let supervisor: [(CPUIDFeature, [Int])] = [
            (.intelPt, [8]), (.enqcmd, [10]), (.shstk, [11, 12]), (.archLbr, [15]),
        ]
        var result: [StateComponent] = []
        for (subleaf, table) in [(UInt32(0), user), (1, supervisor)] {
            for (feature, components) in table {
                result += components.map { StateComponent(feature: feature, subleaf: subleaf, component: $0) }
            }
        }
        return result
    }()

    /// The state components `entries` enumerate: XCR0's (leaf 0xD sub-leaf 0 EDX:EAX) and
    /// IA32_XSS's (sub-leaf 1 EDX:ECX).
    static func stateComponentBits(_ entries: [CPUIDEntry]) -> UInt64 {
        var bits: UInt64 = 0
        if let user = entries.entry(function: 0xd, index: 0) { bits |= UInt64(user.edx) << 32 | UInt64(user.eax) }
        if let supervisor = entries.entry(function: 0xd, index: 1) {
            bits |= UInt64(supervisor.edx) << 32 | UInt64(supervisor.ecx)
        }
        return bits
    }

    /// The catalogue's name closest to `name` when exactly one is close: at most two edits away
    /// (an insertion, deletion, substitution or swap of neighbours each count one), at most one for
    /// names of three characters or fewer, and nearer than any other.
    static func suggestion(for name: String) -> String? {
        let limit = name.count <= 3 ? 1 : 2
        var best: [String] = []
        var bestDistance = limit + 1
        for candidate in CPUIDFeature.all.map(\.name) {
            let distance = editDistance(name, candidate)
            if distance < bestDistance {
                bestDistance = distance
                best = [candidate]
            } else if distance == bestDistance {
                best.append(candidate)
            }
        }
        return best.count == 1 ? best[0] : nil
    }

    /// The optimal-string-alignment distance between `a` and `b`: insertions, deletions,
    /// substitutions and swaps of adjacent characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var distance = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    distance = min(distance, rows[i - 2][j - 2] + 1)
                }
                rows[i][j] = distance
            }
        }
        return rows[a.count][b.count]
    }
}

/// Why a list of CPUID feature names was refused (``CPUIDTemplate/init(hidingNames:)``).
public enum CPUIDTemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The list has no items at all (it is empty or white space).
    case emptyList
    /// The item at `position` (counting from 1) is empty: two commas in a row, or one at either end.
    case emptyItem(position: Int)
    /// No feature of the catalogue has this name (given normalised: lower case, `_` for `-`);
    /// `suggestion` is the one close name, when there is one.
    case unknownFeature(String, suggestion: String?)
    /// The feature is part of the x86-64 baseline a 64-bit Linux kernel needs (`lm`, `sse2` …), so
    /// no template hides it.
    case notHideable(String)

    /// What was wrong, naming the item.
    public var description: String {
        switch self {
        case .emptyList:
            "empty list of CPUID features to hide"
        case .emptyItem(let position):
            "empty CPUID feature name at position \(position) of the list"
        case .unknownFeature(let name, let suggestion):
            "unknown CPUID feature '\(name)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? "")
        case .notHideable(let name):
            "CPUID feature '\(name)' cannot be hidden: \(CPUIDFeature.baseline[name] ?? "a 64-bit kernel needs it")"
        }
    }
}
