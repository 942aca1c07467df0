import DeviceModel
import GuestMemory
import KVM
import TestSupport
import Testing
import VCPU

/// A ``CPUIDTemplate`` clears exactly the bits of the features it hides, of the features that
/// depend on them (Linux's table) and of their XSAVE state components, empties leaf 0xD when
/// `xsave` is hidden, changes nothing else, gives the same result when applied twice, never hides
/// the x86-64 baseline (`lm`), and parses a `--cpuid-hide` list into exactly those features or into
/// an exact error.
@Suite struct CPUIDTemplateTests {
    /// `KVM_CPUID_FLAG_SIGNIFCANT_INDEX`: the entry is one sub-leaf of its leaf.
    static let subleafFlag: UInt32 = 1

    /// Components the synthetic leaf 0xD enumerates: XCR0 (x87, SSE, AVX, MPX, AVX-512, PKRU, AMX)
    /// in sub-leaf 0 EAX, IA32_XSS (PT, PASID, CET, LBR) in sub-leaf 1 ECX.
    static let userComponents: [UInt32] = [0, 1, 2, 3, 4, 5, 6, 7, 9, 17, 18]
    static let supervisorComponents: [UInt32] = [8, 10, 11, 12, 15]

    /// A CPU with every feature bit set, and leaf 0xD with one sub-leaf per enumerated component.
    static let synthetic: [CPUIDEntry] = {
        var entries = [
            CPUIDEntry(function: 0, eax: 0xd, ebx: 0x756e_6547, ecx: 0x6c65_746e, edx: 0x4965_6e69),
            CPUIDEntry(function: 1, eax: 0x906ea, ebx: 0x0001_0800, ecx: ~0, edx: ~0),
            CPUIDEntry(function: 7, index: 0, flags: subleafFlag, eax: 1, ebx: ~0, ecx: ~0, edx: ~0),
            CPUIDEntry(function: 7, index: 1, flags: subleafFlag, eax: ~0, ebx: ~0, ecx: ~0, edx: ~0),
            CPUIDEntry(
                function: 0xd, index: 0, flags: subleafFlag, eax: bits(userComponents), ebx: 0x340, ecx: 0x2b00),
            CPUIDEntry(
                function: 0xd, index: 1, flags: subleafFlag, eax: 0x1f, ebx: 0x3c0, ecx: bits(supervisorComponents)),
        ]
        for component in (userComponents + supervisorComponents).sorted() where component >= 2 {
            entries.append(
                CPUIDEntry(
                    function: 0xd, index: component, flags: subleafFlag, eax: 0x40 + component, ebx: 0x240 + component,
                    ecx: supervisorComponents.contains(component) ? 1 : 0))
        }
        entries += [
            CPUIDEntry(function: 0x4000_0000, eax: 0x4000_0001, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x4d),
            CPUIDEntry(function: 0x4000_0001, eax: ~0, edx: 1),
            CPUIDEntry(function: 0x8000_0000, eax: 0x8000_0008),
            CPUIDEntry(function: 0x8000_0001, ecx: ~0, edx: ~0),
        ]
        return entries
    }()

    /// A mask with the given bits set.
    static func bits(_ positions: [UInt32]) -> UInt32 { positions.reduce(0) { $0 | 1 << $1 } }
    static func bits(_ positions: UInt32...) -> UInt32 { bits(positions) }

    @Test func hidingFeaturesClearsExactlyTheirBits() {
        let template = CPUIDTemplate(hiding: [.cx16, .x2apic, .pdpe1gb, .la57, .rdrand, .kvmPvEoi, .kvmStealTime])
        var expected = Self.synthetic
        expected.clear(1, ecx: Self.bits(13, 21, 30))
        expected.clear(7, ecx: Self.bits(16))
        expected.clear(0x8000_0001, edx: Self.bits(26))
        expected.clear(0x4000_0001, eax: Self.bits(5, 6))
        #expect(template.apply(to: Self.synthetic) == expected)
        #expect(template.effectiveHidden == template.hidden, "none of these has dependents")
    }

    @Test func eachFeatureClearsItsOwnBit() {
        for feature in CPUIDFeature.all {
            let result = CPUIDTemplate(hiding: [feature]).apply(to: Self.synthetic)
            let entry = result.entry(function: feature.leaf, index: feature.subleaf)
            #expect(entry.map { $0[feature.register] & feature.mask } == 0, "\(feature)")
            #expect(result.count == Self.synthetic.count, "no entry added or removed")
        }
    }

    @Test func xsaveHidesItsDependentsAndEmptiesLeafD() throws {
        let template = CPUIDTemplate(hiding: [.xsave])
        let hidden = template.effectiveHidden
        for feature: CPUIDFeature in [
            .xsave, .osxsave, .avx, .xsaveopt, .xsavec, .xsaves, .xgetbv1, .avx2, .fma, .f16c, .avx512f, .avx512vl,
            .avx512Vbmi2, .vaes, .vpclmulqdq, .avxVnni, .pku, .ospke, .mpx, .xfd, .amxTile, .amxInt8, .shstk, .enqcmd,
        ] {
            #expect(hidden.contains(feature), "\(feature)")
        }
        for feature: CPUIDFeature in [.cx16, .sse4_2, .bmi2, .aes, .x2apic, .intelPt, .archLbr, .kvmClock2] {
            #expect(!hidden.contains(feature), "\(feature)")
        }

        var expected = Self.synthetic
        expected.clear(1, ecx: Self.bits(12, 26, 27, 28, 29))  // fma, xsave, osxsave, avx, f16c
        // avx2, mpx, avx512f, avx512dq, avx512ifma, avx512pf, avx512er, avx512cd, avx512bw, avx512vl
        expected.clear(7, ebx: Self.bits(5, 14, 16, 17, 21, 26, 27, 28, 30, 31))
        // avx512vbmi, pku, ospke, avx512_vbmi2, shstk, vaes, vpclmulqdq, avx512_vnni, avx512_bitalg,
        // avx512_vpopcntdq, enqcmd
        expected.clear(7, ecx: Self.bits(1, 3, 4, 6, 7, 9, 10, 11, 12, 14, 29))
        // avx512_4vnniw, avx512_4fmaps, avx512_vp2intersect, amx_bf16, avx512_fp16, amx_tile, amx_int8
        expected.clear(7, edx: Self.bits(2, 3, 8, 22, 23, 24, 25))
        expected.clear(7, 1, eax: Self.bits(4, 5))  // avx_vnni, avx512_bf16
        expected.clear(0x8000_0001, ecx: Self.bits(11, 16))  // xop, fma4
        for i in expected.indices where expected[i].function == 0xd { expected[i].zero() }
        let result = template.apply(to: Self.synthetic)
        #expect(result == expected)
        #expect(result.filter { $0.function == 0xd }.count == Self.synthetic.filter { $0.function == 0xd }.count)
    }

    @Test func avxHidesFMAAndAVX512ButNotXSAVE() {
        let template = CPUIDTemplate(hiding: [.avx])
        let hidden = template.effectiveHidden
        for feature: CPUIDFeature in [.avx, .fma, .f16c, .avx2, .avx512f, .avx512bw, .avx512Fp16, .vaes, .xop] {
            #expect(hidden.contains(feature), "\(feature)")
        }
        for feature: CPUIDFeature in [.xsave, .osxsave, .xsaveopt, .xsavec, .xsaves, .pku, .mpx, .amxTile] {
            #expect(!hidden.contains(feature), "\(feature)")
        }

        var expected = Self.synthetic
        expected.clear(1, ecx: Self.bits(12, 28, 29))  // fma, avx, f16c
        expected.clear(7, ebx: Self.bits(5, 16, 17, 21, 26, 27, 28, 30, 31))
        expected.clear(7, ecx: Self.bits(1, 6, 9, 10, 11, 12, 14))
        expected.clear(7, edx: Self.bits(2, 3, 8, 23))
        expected.clear(7, 1, eax: Self.bits(4, 5))
        expected.clear(0x8000_0001, ecx: Self.bits(11, 16))
        // The AVX (2) and AVX-512 (5, 6, 7) state leaves XCR0's components and loses its sub-leaves;
        // x87, SSE, MPX, PKRU and AMX stay.
        expected.clear(0xd, 0, eax: Self.bits(2, 5, 6, 7))
        for i in expected.indices where expected[i].function == 0xd && [2, 5, 6, 7].contains(expected[i].index) {
            expected[i].zero()
        }
        #expect(template.apply(to: Self.synthetic) == expected)
    }

    @Test func hidingXSAVESWithdrawsSupervisorState() {
        var expected = Self.synthetic
        expected.clear(0xd, 1, eax: Self.bits(3, 4), ecx: ~0)  // xsaves, xfd; every IA32_XSS component
        expected.clear(7, ecx: Self.bits(7, 29))  // shstk, enqcmd
        expected.clear(7, edx: Self.bits(22, 24, 25))  // amx_bf16, amx_tile, amx_int8 (through xfd)
        expected.clear(0xd, 0, eax: Self.bits(17, 18))  // AMX state
        for i in expected.indices
        where expected[i].function == 0xd && ([17, 18] + Self.supervisorComponents).contains(expected[i].index) {
            expected[i].zero()
        }
        #expect(CPUIDTemplate(hiding: [.xsaves]).apply(to: Self.synthetic) == expected)
    }

    @Test func applyingTwiceIsApplyingOnce() {
        var templates = CPUIDFeature.all.map { CPUIDTemplate(hiding: [$0]) }
        templates += [
            .nestedKVMEmulatorWorkaround, CPUIDTemplate(hiding: CPUIDFeature.all), CPUIDTemplate(hiding: []),
            CPUIDTemplate(hiding: [.avx, .hypervisor, .kvmClock]),
        ]
        for template in templates {
            let once = template.apply(to: Self.synthetic)
            #expect(template.apply(to: once) == once, "\(template.hidden.map(\.name).sorted())")
        }
        #expect(CPUIDTemplate(hiding: []).apply(to: Self.synthetic) == Self.synthetic)
    }

    @Test func nestedKVMEmulatorWorkaroundHidesCX16AndXSAVE() {
        let template = CPUIDTemplate.nestedKVMEmulatorWorkaround
        #expect(template.hidden == [.cx16, .xsave])
        #expect(template.effectiveHidden == CPUIDTemplate(hiding: [.xsave]).effectiveHidden.union([.cx16]))
        let result = template.apply(to: Self.synthetic)
        #expect(result.entry(function: 1).map { $0.ecx & Self.bits(13, 26, 28) } == 0)
        #expect(result.filter { $0.function == 0xd }.allSatisfy { $0.eax | $0.ebx | $0.ecx | $0.edx == 0 })
    }

    @Test func builderAppliesTheTemplateLast() throws {
        let topology = CPUTopology(threadsPerCore: 2, coresPerPackage: 2)
        let template = CPUIDTemplate(hiding: [.hypervisor, .ht, .cx16])
        let plain = try CPUIDBuilder.entries(from: Self.synthetic, apicID: 3, topology: topology)
        let templated = try CPUIDBuilder.entries(
            from: Self.synthetic, apicID: 3, topology: topology, template: template)
        #expect(templated == template.apply(to: plain))
        let leaf1 = try #require(templated.entry(function: 1))
        #expect(leaf1.ecx & Self.bits(31, 13) == 0, "the builder's hypervisor bit is hidden too")
        #expect(leaf1.edx & Self.bits(28) == 0, "and its HTT bit")
        #expect(leaf1.ebx >> 24 == 3, "the APIC id stays")
    }

    @Test func catalogueBitsAndNames() throws {
        let expected: [(CPUIDFeature, String, UInt32, UInt32, CPUIDFeature.Register, Int)] = [
            (.cx16, "cx16", 1, 0, .ecx, 13), (.xsave, "xsave", 1, 0, .ecx, 26), (.avx, "avx", 1, 0, .ecx, 28),
            (.x2apic, "x2apic", 1, 0, .ecx, 21), (.rdrand, "rdrand", 1, 0, .ecx, 30),
            (.tscDeadlineTimer, "tsc_deadline_timer", 1, 0, .ecx, 24), (.pni, "pni", 1, 0, .ecx, 0),
            (.avx2, "avx2", 7, 0, .ebx, 5), (.avx512f, "avx512f", 7, 0, .ebx, 16), (.la57, "la57", 7, 0, .ecx, 16),
            (.archCapabilities, "arch_capabilities", 7, 0, .edx, 29), (.avx512Bf16, "avx512_bf16", 7, 1, .eax, 5),
            (.xsaveopt, "xsaveopt", 0xd, 1, .eax, 0), (.xsaves, "xsaves", 0xd, 1, .eax, 3),
            (.pdpe1gb, "pdpe1gb", 0x8000_0001, 0, .edx, 26), (.nx, "nx", 0x8000_0001, 0, .edx, 20),
            (.lahfLm, "lahf_lm", 0x8000_0001, 0, .ecx, 0),
            (.threeDNowPrefetch, "3dnowprefetch", 0x8000_0001, 0, .ecx, 8),
            (.kvmClock, "kvmclock", 0x4000_0001, 0, .eax, 0), (.kvmClock2, "kvmclock2", 0x4000_0001, 0, .eax, 3),
            (.kvmAsyncPf, "kvm_async_pf", 0x4000_0001, 0, .eax, 4),
            (.kvmStealTime, "kvm_steal_time", 0x4000_0001, 0, .eax, 5),
            (.kvmPvEoi, "kvm_pv_eoi", 0x4000_0001, 0, .eax, 6),
            (.kvmPvUnhalt, "kvm_pv_unhalt", 0x4000_0001, 0, .eax, 7),
            (.kvmClockStableBit, "kvmclock_stable_bit", 0x4000_0001, 0, .eax, 24),
        ]
        for (feature, name, leaf, subleaf, register, bit) in expected {
            #expect(
                feature.name == name && feature.leaf == leaf && feature.subleaf == subleaf
                    && feature.register == register && feature.bit == bit, "\(feature)")
        }
        #expect(Set(CPUIDFeature.all.map(\.name)).count == CPUIDFeature.all.count, "names are unique")
        let places = CPUIDFeature.all.map { "\($0.leaf).\($0.subleaf).\($0.register).\($0.bit)" }
        #expect(Set(places).count == places.count, "no bit has two names")
        for feature in CPUIDFeature.all { #expect(CPUIDFeature(named: feature.name) == feature) }
        #expect(CPUIDFeature(named: " TSC-Deadline-Timer ") == .tscDeadlineTimer)
        #expect(CPUIDFeature(named: "nosuchfeature") == nil)
        #expect(CPUIDFeature.cx16.description == "cx16 (CPUID 0x1 ECX bit 13)")
        #expect(CPUIDFeature.avx2.description == "avx2 (CPUID 0x7.0 EBX bit 5)")
        #expect(CPUIDFeature.kvmPvEoi.mask == 0x40)
    }

    @Test func longModeAndTheBaselineCannotBeHidden() {
        for name in ["lm", "syscall", "fpu", "pae", "msr", "cx8", "pge", "fxsr", "cmov", "sse", "sse2"] {
            #expect(CPUIDFeature(named: name) == nil, "\(name)")
            #expect(throws: CPUIDTemplateError.notHideable(name)) { try CPUIDTemplate(hidingNames: "cx16,\(name)") }
        }
        #expect(!CPUIDFeature.all.contains { $0.leaf == 0x8000_0001 && $0.register == .edx && $0.bit == 29 })
        // Hiding the whole catalogue still leaves the x86-64 baseline.
        let everything = CPUIDTemplate(hiding: CPUIDFeature.all).apply(to: Self.synthetic)
        let baseline = Self.bits(0, 5, 6, 8, 13, 15, 24, 25, 26)  // fpu msr pae cx8 pge cmov fxsr sse sse2
        #expect(everything.entry(function: 1).map { $0.edx & baseline } == baseline)
        #expect(everything.entry(function: 0x8000_0001).map { $0.edx & Self.bits(11, 29) } == Self.bits(11, 29))
        #expect(
            CPUIDTemplateError.notHideable("lm").description
                == "CPUID feature 'lm' cannot be hidden: a 64-bit kernel needs long mode: KVM refuses EFER.LME "
                + "without it and the kernel stops in verify_cpu")
    }

    @Test func parsingNameLists() throws {
        #expect(try CPUIDTemplate(hidingNames: "cx16,xsave") == .nestedKVMEmulatorWorkaround)
        #expect(try CPUIDTemplate(hidingNames: "cx16").hidden == [.cx16])
        #expect(
            try CPUIDTemplate(hidingNames: " CX16 , avx2,tsc-deadline-timer, kvm_pv_eoi,cx16").hidden
                == [.cx16, .avx2, .tscDeadlineTimer, .kvmPvEoi])
        #expect(try CPUIDTemplate(hidingNames: "3dnowprefetch,kvmclock").hidden == [.threeDNowPrefetch, .kvmClock])
    }

    @Test func parsingErrorsAreExact() {
        #expect(throws: CPUIDTemplateError.unknownFeature("cx61", suggestion: "cx16")) {
            try CPUIDTemplate(hidingNames: "xsave, CX61")
        }
        #expect(throws: CPUIDTemplateError.unknownFeature("xsvae", suggestion: "xsave")) {
            try CPUIDTemplate(hidingNames: "xsvae")
        }
        #expect(throws: CPUIDTemplateError.unknownFeature("avx_512f", suggestion: "avx512f")) {
            try CPUIDTemplate(hidingNames: "avx-512f")
        }
        #expect(throws: CPUIDTemplateError.unknownFeature("avx3", suggestion: nil), "avx and avx2 are as close") {
            try CPUIDTemplate(hidingNames: "avx3")
        }
        #expect(throws: CPUIDTemplateError.unknownFeature("nosuchfeature", suggestion: nil)) {
            try CPUIDTemplate(hidingNames: "cx16,nosuchfeature")
        }
        #expect(throws: CPUIDTemplateError.emptyItem(position: 2)) { try CPUIDTemplate(hidingNames: "cx16,,xsave") }
        #expect(throws: CPUIDTemplateError.emptyItem(position: 3)) { try CPUIDTemplate(hidingNames: "cx16,xsave,") }
        #expect(throws: CPUIDTemplateError.emptyItem(position: 1)) { try CPUIDTemplate(hidingNames: " ,cx16") }
        #expect(throws: CPUIDTemplateError.emptyList) { try CPUIDTemplate(hidingNames: "") }
        #expect(throws: CPUIDTemplateError.emptyList) { try CPUIDTemplate(hidingNames: "  ") }

        #expect(
            CPUIDTemplateError.unknownFeature("cx61", suggestion: "cx16").description
                == "unknown CPUID feature 'cx61' (did you mean 'cx16'?)")
        #expect(
            CPUIDTemplateError.unknownFeature("nosuchfeature", suggestion: nil).description
                == "unknown CPUID feature 'nosuchfeature'")
        #expect(
            CPUIDTemplateError.emptyItem(position: 2).description
                == "empty CPUID feature name at position 2 of the list")
        #expect(CPUIDTemplateError.emptyList.description == "empty list of CPUID features to hide")
    }
}

extension VCPUTests {
    /// A guest's own CPUID instruction sees the bits a template hides clear where it saw them set
    /// without the template, and every other bit of the registers it reports unchanged.
    ///
    /// The comparison is exact for every bit the vCPU's CPUID table offers. A bit the table does
    /// not have cannot be hidden through it: the nested KVM of the machines this package is
    /// developed on (`kvm_pvm`) reports some hardware features (`xsave`, `avx`, all of leaf 7) to
    /// the guest whatever the table says, which the tests print as a note.
    @Suite struct CPUIDTemplateInGuest {
        /// 64-bit: `mov eax, 1; xor ecx, ecx; cpuid; mov eax, ecx; mov dx, 0x20; out dx, eax;
        /// mov eax, 7; xor ecx, ecx; cpuid; mov eax, ebx; mov dx, 0x20; out dx, eax; hlt` —
        /// reports leaf 1 ECX, then leaf 7 sub-leaf 0 EBX.
        static let cpuidProbe: [UInt8] = [
            0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0x89, 0xc8, 0x66, 0xba, 0x20, 0x00, 0xef,
            0xb8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0x89, 0xd8, 0x66, 0xba, 0x20, 0x00, 0xef,
            0xf4,
        ]

        /// What a probe saw, and what the vCPU's CPUID table said.
        struct Seen {
            let leaf1ECX: UInt32
            let leaf7EBX: UInt32
            let table: [CPUIDEntry]

            var tableLeaf1ECX: UInt32 { table.entry(function: 1)?.ecx ?? 0 }
            var tableLeaf7EBX: UInt32 { table.entry(function: 7, index: 0)?.ebx ?? 0 }
        }

        static let supported: [CPUIDEntry] = (try? KVMSystem().supportedCPUID()) ?? []

        /// Whether `KVM_GET_SUPPORTED_CPUID` offers `feature`.
        static func offers(_ feature: CPUIDFeature) -> Bool {
            let value = supported.entry(function: feature.leaf, index: feature.subleaf).map { $0[feature.register] }
            return (value ?? 0) & feature.mask != 0
        }

        static var hostOffersCX16: Bool { offers(.cx16) }

        /// Runs the probe on a fresh vCPU whose CPUID went through `template`.
        func probe(_ template: CPUIDTemplate?) throws -> Seen {
            let machine = try TestVM()
            let vcpu = try machine.vm.createVCPU(id: 0)
            let table = try CPUIDBuilder.entries(
                from: machine.kvm.supportedCPUID(), apicID: 0, topology: CPUTopology(coresPerPackage: 1),
                template: template)
            try vcpu.setCPUID(table)
            try machine.startLongMode(vcpu, code: Self.cpuidProbe)
            let recorder = RecorderDevice()
            let bus = PortIOBus()
            try bus.insert(recorder, base: 0x20, size: 4)
            let runner = VCPURunner(vcpu: vcpu, portIO: bus)
            try runner.start()
            try #require(runner.waitUntilStopped() == .halted)
            let values = recorder.recorded
            try #require(values.count == 2)
            return Seen(leaf1ECX: values[0], leaf7EBX: values[1], table: table)
        }

        /// Prints which of `features` the guest saw although its table did not have them.
        func noteBitsOutsideTable(_ what: String, seen: UInt32, table: UInt32, features: [CPUIDFeature]) {
            let extra = features.filter { seen & ~table & $0.mask != 0 }.map(\.name)
            if !extra.isEmpty {
                print(
                    "note: this host's KVM shows the guest \(what) \(extra.joined(separator: ", ")), not in its CPUID table"
                )
            }
        }

        @Test func hostSupportedFeatures() {
            let report = [CPUIDFeature.cx16, .xsave, .avx, .avx2].map {
                "\($0.name): \(Self.offers($0) ? "yes" : "no")"
            }
            print("note: this host's KVM_GET_SUPPORTED_CPUID offers \(report.joined(separator: ", "))")
            #expect(Self.supported.entry(function: 1) != nil)
        }

        @Test(.enabled(if: hostOffersCX16, "this host's KVM_GET_SUPPORTED_CPUID does not offer cx16"))
        func guestSeesHiddenBitsClear() throws {
            let offersAVX2 = Self.offers(.avx2)
            let plain = try probe(nil)
            #expect(plain.leaf1ECX & CPUIDFeature.cx16.mask != 0, "without a template the guest sees cx16")

            let hidden = try probe(CPUIDTemplate(hiding: offersAVX2 ? [.cx16, .avx2] : [.cx16]))
            #expect(hidden.leaf1ECX == plain.leaf1ECX & ~CPUIDFeature.cx16.mask)
            whenAvailable(offersAVX2, "hiding avx2 in a guest", missing: "this host's KVM does not offer avx2") {
                #expect(plain.leaf7EBX & CPUIDFeature.avx2.mask != 0, "without a template the guest sees avx2")
                #expect(hidden.leaf7EBX == plain.leaf7EBX & ~CPUIDFeature.avx2.mask)
            }
            if !offersAVX2 { #expect(hidden.leaf7EBX == plain.leaf7EBX) }
        }

        @Test(.enabled(if: hostOffersCX16, "this host's KVM_GET_SUPPORTED_CPUID does not offer cx16"))
        func guestRunsWithTheNestedKVMEmulatorWorkaround() throws {
            let plain = try probe(nil)
            let hidden = try probe(.nestedKVMEmulatorWorkaround)  // KVM takes the empty leaf 0xD
            #expect(hidden.table.filter { $0.function == 0xd }.allSatisfy { $0.eax | $0.ebx | $0.ecx | $0.edx == 0 })
            // cx16, and with xsave: fma, xsave, osxsave, avx, f16c; then avx2, mpx and the avx512 bits.
            let leaf1: [CPUIDFeature] = [.cx16, .fma, .xsave, .osxsave, .avx, .f16c]
            let leaf7: [CPUIDFeature] = [
                .avx2, .mpx, .avx512f, .avx512dq, .avx512ifma, .avx512pf, .avx512er, .avx512cd, .avx512bw, .avx512vl,
            ]
            let leaf1Mask = leaf1.reduce(0) { $0 | $1.mask }
            let leaf7Mask = leaf7.reduce(0) { $0 | $1.mask }
            // Exact for every bit the unmodified table offered (all of them on hardware KVM).
            #expect(hidden.leaf1ECX == plain.leaf1ECX & ~(leaf1Mask & plain.tableLeaf1ECX))
            #expect(hidden.leaf7EBX == plain.leaf7EBX & ~(leaf7Mask & plain.tableLeaf7EBX))
            #expect(hidden.leaf1ECX & CPUIDFeature.cx16.mask == 0)
            noteBitsOutsideTable("leaf 1 ECX", seen: hidden.leaf1ECX, table: hidden.tableLeaf1ECX, features: leaf1)
            noteBitsOutsideTable("leaf 7 EBX", seen: hidden.leaf7EBX, table: hidden.tableLeaf7EBX, features: leaf7)
        }
    }
}

extension [CPUIDEntry] {
    /// Clears the given bits of the entry for `leaf` / `subleaf` (which must exist).
    mutating func clear(
        _ leaf: UInt32, _ subleaf: UInt32 = 0, eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0
    ) {
        let i = firstIndex { $0.function == leaf && $0.index == subleaf }!
        self[i].eax &= ~eax
        self[i].ebx &= ~ebx
        self[i].ecx &= ~ecx
        self[i].edx &= ~edx
    }
}

extension CPUIDEntry {
    /// All four registers 0.
    mutating func zero() {
        (eax, ebx, ecx, edx) = (0, 0, 0, 0)
    }

    /// The value of `register`.
    subscript(register: CPUIDFeature.Register) -> UInt32 {
        switch register {
        case .eax: eax
        case .ebx: ebx
        case .ecx: ecx
        case .edx: edx
        }
    }
}
