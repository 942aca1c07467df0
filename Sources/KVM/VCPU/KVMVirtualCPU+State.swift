// Register and state access of a vCPU: one get/set pair per KVM state structure.

/// General-purpose registers, RIP and RFLAGS (`struct kvm_regs`).
public typealias Registers = kvm_regs
/// Segment, control and descriptor-table registers, EFER and APIC base (`struct kvm_sregs`).
public typealias SpecialRegisters = kvm_sregs
/// One segment register (`struct kvm_segment`).
public typealias Segment = kvm_segment
/// A descriptor-table register, GDTR or IDTR (`struct kvm_dtable`).
public typealias DescriptorTable = kvm_dtable
/// x87 / SSE state (`struct kvm_fpu`).
public typealias FPUState = kvm_fpu
/// The local APIC's register page (`struct kvm_lapic_state`).
public typealias LAPICState = kvm_lapic_state
/// Extended control registers, XCR0 (`struct kvm_xcrs`).
public typealias ExtendedControlRegisters = kvm_xcrs
/// DR0–DR3, DR6, DR7 (`struct kvm_debugregs`).
public typealias DebugRegisters = kvm_debugregs
/// Pending exceptions, interrupts, NMIs and SMM state (`struct kvm_vcpu_events`).
public typealias VCPUEvents = kvm_vcpu_events
/// Guest debugging control (`struct kvm_guest_debug`).
public typealias GuestDebug = kvm_guest_debug

/// The vCPU's multiprocessing state (`KVM_MP_STATE_*`).
public struct MPState: RawRepresentable, Hashable, Sendable {
    /// The `KVM_MP_STATE_*` value.
    public let rawValue: UInt32
    /// The state with the `KVM_MP_STATE_*` value `rawValue` (any value, including ones of other
    /// architectures).
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `KVM_MP_STATE_RUNNABLE`: the vCPU can run (every vCPU's state at creation without an in-kernel
    /// LAPIC; the bootstrap processor's with one).
    public static let runnable = MPState(rawValue: UInt32(KVM_MP_STATE_RUNNABLE))
    /// `KVM_MP_STATE_UNINITIALIZED`: an application processor waiting for INIT (its state at creation
    /// with an in-kernel LAPIC).
    public static let uninitialized = MPState(rawValue: UInt32(KVM_MP_STATE_UNINITIALIZED))
    /// `KVM_MP_STATE_INIT_RECEIVED`: INIT received, waiting for a startup IPI (SIPI).
    public static let initReceived = MPState(rawValue: UInt32(KVM_MP_STATE_INIT_RECEIVED))
    /// `KVM_MP_STATE_HALTED`: the vCPU executed HLT and waits for an interrupt (in-kernel LAPIC).
    public static let halted = MPState(rawValue: UInt32(KVM_MP_STATE_HALTED))
    /// `KVM_MP_STATE_SIPI_RECEIVED`: a startup IPI has been received.
    public static let sipiReceived = MPState(rawValue: UInt32(KVM_MP_STATE_SIPI_RECEIVED))
}

/// The XSAVE area (`struct kvm_xsave`, or larger with `KVM_CAP_XSAVE2`) as raw bytes.
public struct XSaveState: Hashable, Sendable {
    /// The area's bytes in the kernel's layout (at least the 4 KiB of `struct kvm_xsave`).
    public var bytes: [UInt8]
    /// An XSAVE area made of `bytes`, for example from a snapshot.
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// The result of translating a guest virtual address (`struct kvm_translation`).
public struct Translation: Hashable, Sendable {
    /// The guest physical address the virtual address maps to (meaningful when ``valid``).
    public let physicalAddress: UInt64
    /// Whether the guest's page tables map the address.
    public let valid: Bool
    /// Whether the mapping allows writes.
    public let writeable: Bool
    /// Whether the mapping is accessible from user mode.
    public let user: Bool
}

extension KVMVirtualCPU {
    /// The general-purpose registers, RIP and RFLAGS (`KVM_GET_REGS`).
    public func registers() throws(KVMError) -> Registers {
        try kvmIoctl(fileDescriptor, CKVM_GET_REGS, output: Registers.self, initial: Registers(), "KVM_GET_REGS")
    }

    /// Sets the general-purpose registers, RIP and RFLAGS (`KVM_SET_REGS`).
    public func setRegisters(_ registers: Registers) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_REGS, input: registers, "KVM_SET_REGS")
    }

    /// The segment, control and descriptor-table registers, EFER and APIC base (`KVM_GET_SREGS`).
    public func specialRegisters() throws(KVMError) -> SpecialRegisters {
        try kvmIoctl(
            fileDescriptor, CKVM_GET_SREGS, output: SpecialRegisters.self, initial: SpecialRegisters(), "KVM_GET_SREGS")
    }

    /// Sets the segment, control and descriptor-table registers, EFER and APIC base (`KVM_SET_SREGS`).
    public func setSpecialRegisters(_ registers: SpecialRegisters) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_SREGS, input: registers, "KVM_SET_SREGS")
    }

    /// The x87 and SSE state (`KVM_GET_FPU`).
    public func fpu() throws(KVMError) -> FPUState {
        try kvmIoctl(fileDescriptor, CKVM_GET_FPU, output: FPUState.self, initial: FPUState(), "KVM_GET_FPU")
    }

    /// Sets the x87 and SSE state (`KVM_SET_FPU`).
    public func setFPU(_ state: FPUState) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_FPU, input: state, "KVM_SET_FPU")
    }

    /// Reads the given MSRs (`KVM_GET_MSRS`).
    /// - Throws: `.msrNotAccepted(index:)` naming the first MSR KVM would not read.
    public func msrs(_ indices: [UInt32]) throws(KVMError) -> [MSREntry] {
        let read = try transferMSRs(indices.map { MSREntry(index: $0) }) { (buffer) throws(KVMError) -> Int32 in
            try kvmIoctl(fileDescriptor, CKVM_GET_MSRS, buffer, "KVM_GET_MSRS")
        }
        if read.count < indices.count { throw .msrNotAccepted(index: indices[read.count]) }
        return read
    }

    /// Writes MSRs (`KVM_SET_MSRS`).
    /// - Throws: `.msrNotAccepted(index:)` naming the first MSR KVM refused (the ones before it
    ///   were written).
    public func setMSRs(_ entries: [MSREntry]) throws(KVMError) {
        let written = try transferMSRs(entries) { (buffer) throws(KVMError) -> Int32 in
            try kvmIoctl(fileDescriptor, CKVM_SET_MSRS, buffer, "KVM_SET_MSRS")
        }
        if written.count < entries.count { throw .msrNotAccepted(index: entries[written.count].index) }
    }

    /// Sets the CPUID the guest sees (`KVM_SET_CPUID2`).
    public func setCPUID(_ entries: [CPUIDEntry]) throws(KVMError) {
        try withCPUID2(entries) { (buffer) throws(KVMError) in
            _ = try kvmIoctl(fileDescriptor, CKVM_SET_CPUID2, UnsafeMutableRawPointer(buffer), "KVM_SET_CPUID2")
        }
    }

    /// The CPUID the guest sees (`KVM_GET_CPUID2`).
    public func cpuid() throws(KVMError) -> [CPUIDEntry] {
        try readCPUIDList { (buffer) throws(KVMError) in
            try kvmIoctl(fileDescriptor, CKVM_GET_CPUID2, buffer, "KVM_GET_CPUID2")
        }
    }

    /// The local APIC's register page (`KVM_GET_LAPIC`; needs an in-kernel LAPIC).
    public func lapic() throws(KVMError) -> LAPICState {
        try kvmIoctl(fileDescriptor, CKVM_GET_LAPIC, output: LAPICState.self, initial: LAPICState(), "KVM_GET_LAPIC")
    }

    /// Sets the local APIC's register page (`KVM_SET_LAPIC`; needs an in-kernel LAPIC).
    public func setLAPIC(_ state: LAPICState) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_LAPIC, input: state, "KVM_SET_LAPIC")
    }

    /// The XSAVE area (`KVM_GET_XSAVE2` when the host's area is larger than 4 KiB, else
    /// `KVM_GET_XSAVE`).
    public func xsave() throws(KVMError) -> XSaveState {
        let size = max(Int(try vm.check(.xsave2)), MemoryLayout<kvm_xsave>.size)
        var bytes = [UInt8](repeating: 0, count: size)
        let request = size > MemoryLayout<kvm_xsave>.size ? CKVM_GET_XSAVE2 : CKVM_GET_XSAVE
        try withMutableBytes(of: &bytes) { (raw) throws(KVMError) in
            _ = try kvmIoctl(fileDescriptor, request, raw.baseAddress, "KVM_GET_XSAVE")
        }
        return XSaveState(bytes: bytes)
    }

    /// Restores the XSAVE area (`KVM_SET_XSAVE`).
    ///
    /// - Throws: `.invalidArgument` when `state` is smaller than `struct kvm_xsave` (4 KiB).
    public func setXSave(_ state: XSaveState) throws(KVMError) {
        guard state.bytes.count >= MemoryLayout<kvm_xsave>.size else {
            throw .invalidArgument("XSAVE area of \(state.bytes.count) bytes is smaller than kvm_xsave")
        }
        var bytes = state.bytes
        try withMutableBytes(of: &bytes) { (raw) throws(KVMError) in
            _ = try kvmIoctl(fileDescriptor, CKVM_SET_XSAVE, raw.baseAddress, "KVM_SET_XSAVE")
        }
    }

    /// The extended control registers (`KVM_GET_XCRS`; see ``supportsXCRs``).
    public func xcrs() throws(KVMError) -> ExtendedControlRegisters {
        try kvmIoctl(
            fileDescriptor, CKVM_GET_XCRS, output: ExtendedControlRegisters.self, initial: ExtendedControlRegisters(),
            "KVM_GET_XCRS")
    }

    /// Sets the extended control registers (`KVM_SET_XCRS`).
    public func setXCRs(_ registers: ExtendedControlRegisters) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_XCRS, input: registers, "KVM_SET_XCRS")
    }

    /// The debug registers DR0–DR3, DR6 and DR7 (`KVM_GET_DEBUGREGS`).
    public func debugRegisters() throws(KVMError) -> DebugRegisters {
        try kvmIoctl(
            fileDescriptor, CKVM_GET_DEBUGREGS, output: DebugRegisters.self, initial: DebugRegisters(),
            "KVM_GET_DEBUGREGS")
    }

    /// Sets the debug registers (`KVM_SET_DEBUGREGS`).
    public func setDebugRegisters(_ registers: DebugRegisters) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_DEBUGREGS, input: registers, "KVM_SET_DEBUGREGS")
    }

    /// Pending exceptions, interrupts and NMIs, interrupt shadows and SMM state
    /// (`KVM_GET_VCPU_EVENTS`).
    public func events() throws(KVMError) -> VCPUEvents {
        try kvmIoctl(
            fileDescriptor, CKVM_GET_VCPU_EVENTS, output: VCPUEvents.self, initial: VCPUEvents(), "KVM_GET_VCPU_EVENTS")
    }

    /// Sets the pending events (`KVM_SET_VCPU_EVENTS`).
    public func setEvents(_ events: VCPUEvents) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_VCPU_EVENTS, input: events, "KVM_SET_VCPU_EVENTS")
    }

    /// The multiprocessing state (`KVM_GET_MP_STATE`).
    public func mpState() throws(KVMError) -> MPState {
        let state = try kvmIoctl(
            fileDescriptor, CKVM_GET_MP_STATE, output: kvm_mp_state.self, initial: kvm_mp_state(), "KVM_GET_MP_STATE")
        return MPState(rawValue: state.mp_state)
    }

    /// Sets the multiprocessing state (`KVM_SET_MP_STATE`), for example to make an application
    /// processor runnable without INIT and SIPI.
    public func setMPState(_ state: MPState) throws(KVMError) {
        try kvmIoctl(
            fileDescriptor, CKVM_SET_MP_STATE, input: kvm_mp_state(mp_state: state.rawValue), "KVM_SET_MP_STATE")
    }

    /// The guest TSC frequency in kHz (`KVM_GET_TSC_KHZ`).
    public func tscKHz() throws(KVMError) -> UInt32 {
        UInt32(try kvmIoctl(fileDescriptor, CKVM_GET_TSC_KHZ, value: 0, "KVM_GET_TSC_KHZ"))
    }

    /// Sets the guest TSC frequency (`KVM_SET_TSC_KHZ`; scaling needs `KVM_CAP_TSC_CONTROL`).
    public func setTSCKHz(_ khz: UInt32) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_TSC_KHZ, value: UInt(khz), "KVM_SET_TSC_KHZ")
    }

    /// Translates a guest virtual address through the guest's current page tables
    /// (`KVM_TRANSLATE`).
    public func translate(_ virtualAddress: UInt64) throws(KVMError) -> Translation {
        var request = kvm_translation()
        request.linear_address = virtualAddress
        try kvmIoctl(fileDescriptor, CKVM_TRANSLATE, inOut: &request, "KVM_TRANSLATE")
        return Translation(
            physicalAddress: request.physical_address, valid: request.valid != 0,
            writeable: request.writeable != 0, user: request.usermode != 0)
    }

    /// Injects an NMI (`KVM_NMI`; needs `KVM_CAP_USER_NMI`).
    public func nmi() throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_NMI, value: 0, "KVM_NMI")
    }

    /// Queues an external interrupt (`KVM_INTERRUPT`); only without an in-kernel IRQ chip.
    public func interrupt(vector: UInt32) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_INTERRUPT, input: kvm_interrupt(irq: vector), "KVM_INTERRUPT")
    }

    /// Sets the signals blocked while the guest runs (`KVM_SET_SIGNAL_MASK`); `nil` removes the
    /// mask so the thread's own mask applies.
    public func setSignalMask(blocking signals: [Int32]?) throws(KVMError) {
        guard let signals else {
            try kvmIoctl(fileDescriptor, CKVM_SET_SIGNAL_MASK, nil, "KVM_SET_SIGNAL_MASK")
            return
        }
        // The kernel's sigset is 64 bits: signal n is bit n-1.
        var set: UInt64 = 0
        for signal in signals {
            guard (1...64).contains(signal) else { throw .invalidArgument("signal \(signal) is out of range") }
            set |= 1 << UInt64(signal - 1)
        }
        try withFlexibleArray(header: kvm_signal_mask.self, entry: UInt8.self, count: 8) {
            (header, bytes) throws(KVMError) in
            header.pointee.len = 8
            withUnsafeBytes(of: set.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
            try kvmIoctl(fileDescriptor, CKVM_SET_SIGNAL_MASK, UnsafeMutableRawPointer(header), "KVM_SET_SIGNAL_MASK")
        }
    }

    /// Enables or configures guest debugging: single step, breakpoints (`KVM_SET_GUEST_DEBUG`).
    public func setGuestDebug(_ debug: GuestDebug) throws(KVMError) {
        try kvmIoctl(fileDescriptor, CKVM_SET_GUEST_DEBUG, input: debug, "KVM_SET_GUEST_DEBUG")
    }

    /// `KVM_ENABLE_CAP` on the vCPU (for example `KVM_CAP_HYPERV_SYNIC`).
    public func enable(_ capability: KVMCapability, arguments: [UInt64] = [], flags: UInt32 = 0) throws(KVMError) {
        try kvmIoctl(
            fileDescriptor, CKVM_ENABLE_CAP, input: try enableCapStruct(capability, arguments, flags),
            "KVM_ENABLE_CAP(\(capability))")
    }
}
