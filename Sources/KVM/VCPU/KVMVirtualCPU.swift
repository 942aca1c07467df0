import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A KVM virtual CPU: its descriptor, its shared `kvm_run` area and the ioctls that run it and
/// read or change its state.
///
/// Created by ``KVMVirtualMachine/createVCPU(id:)``. Run it from one thread at a time (the run
/// loop's); the kick side (``immediateExit``) may be used from any thread. The descriptor and
/// mappings are released exactly once, when the object is.
public final class KVMVirtualCPU: Sendable {
    private let owned: OwnedDescriptor
    private let runMapping: MemoryMapping
    let dirtyRingStorage: DirtyRing?

    /// The vCPU id given at creation (the initial APIC id on x86).
    public let id: UInt64
    /// The VM this vCPU belongs to (kept alive by the vCPU).
    public let vm: KVMVirtualMachine

    /// The vCPU descriptor (owned by this object; do not close it).
    public var fileDescriptor: FileDescriptor { owned.raw }

    var runArea: UnsafeMutablePointer<kvm_run> { runMapping.base.assumingMemoryBound(to: kvm_run.self) }

    /// The raw shared `kvm_run` area, for code that drives the vCPU through C. Valid for the
    /// vCPU's lifetime. Prefer ``run()`` and the typed accessors.
    public var kvmRun: UnsafeMutablePointer<kvm_run> { runArea }

    init(owning fd: FileDescriptor, id: UInt64, vm: KVMVirtualMachine, mmapSize: Int, dirtyRingBytes: Int)
        throws(KVMError)
    {
        owned = OwnedDescriptor(fd)
        self.id = id
        self.vm = vm
        guard mmapSize >= MemoryLayout<kvm_run>.size else {
            throw .malformedExit("vCPU mmap size \(mmapSize) is smaller than kvm_run")
        }
        runMapping = try MemoryMapping(fd: fd, size: mmapSize, operation: "mmap kvm_run")
        dirtyRingStorage = dirtyRingBytes > 0 ? try DirtyRing(vcpu: fd, bytes: dirtyRingBytes) : nil
    }

    /// Enters the guest (`KVM_RUN`) and returns the decoded reason it came back.
    ///
    /// `EINTR` (a signal, or ``immediateExit`` set) is not an error: it returns
    /// ``VMExit/interrupted``.
    @inline(__always)
    public func run() throws(KVMError) -> VMExit {
        if ckvm_run(fileDescriptor.rawValue) < 0 {
            let error = Errno(rawValue: Glibc.errno)
            if error == .interrupted { return .interrupted }
            throw .systemCall(operation: "KVM_RUN", errno: error)
        }
        return try decodeExit()
    }

    /// The raw exit reason of the last run (`kvm_run.exit_reason`, a `KVM_EXIT_*` value).
    public var exitReason: UInt32 { runArea.pointee.exit_reason }

    /// Decodes the exit that `kvm_run` holds now (what ``run()`` returns after a successful
    /// `KVM_RUN`).
    ///
    /// - Throws: ``KVMError/malformedExit(_:)`` when an I/O or MMIO payload does not fit the
    ///   mapping.
    public func decodeExit() throws(KVMError) -> VMExit {
        let run = self.runArea
        switch Int32(run.pointee.exit_reason) {
        case KVM_EXIT_IO:
            let io = ckvm_run_io(run)
            let length = Int(io.size) * Int(io.count)
            guard io.data_offset <= UInt64(runMapping.size), length <= runMapping.size - Int(io.data_offset)
            else {
                throw .malformedExit(
                    "I/O data at offset \(io.data_offset), \(length) bytes, outside the \(runMapping.size)-byte mapping"
                )
            }
            return .io(
                IOExit(
                    direction: io.direction == UInt8(KVM_EXIT_IO_IN) ? .in : .out, port: io.port,
                    size: Int(io.size), count: Int(io.count),
                    data: UnsafeMutableRawBufferPointer(start: runMapping.base + Int(io.data_offset), count: length)))
        case KVM_EXIT_MMIO:
            let mmio = ckvm_run_mmio(run)
            guard mmio.len <= 8 else { throw .malformedExit("MMIO length \(mmio.len) exceeds 8") }
            return .mmio(
                MMIOExit(
                    address: mmio.phys_addr, isWrite: mmio.is_write != 0,
                    data: UnsafeMutableRawBufferPointer(start: ckvm_run_mmio_data(run), count: Int(mmio.len))))
        case KVM_EXIT_HLT: return .hlt
        case KVM_EXIT_SHUTDOWN: return .shutdown
        case KVM_EXIT_INTR: return .interrupted
        case KVM_EXIT_IRQ_WINDOW_OPEN: return .irqWindowOpen
        case KVM_EXIT_SYSTEM_EVENT:
            let event = ckvm_run_system_event(run)
            return .systemEvent(SystemEvent(type: event.code, data: words(event)))
        case KVM_EXIT_FAIL_ENTRY:
            let fail = ckvm_run_fail_entry(run)
            return .failEntry(hardwareReason: fail.reason, cpu: fail.cpu)
        case KVM_EXIT_INTERNAL_ERROR:
            let failure = ckvm_run_internal(run)
            return .internalError(suberror: failure.code, data: words(failure))
        case KVM_EXIT_DEBUG:
            let debug = ckvm_run_debug(run)
            return .debug(exception: debug.exception, pc: debug.pc, dr6: debug.dr6, dr7: debug.dr7)
        case KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR:
            let msr = ckvm_run_msr(run)
            let exit = MSRExit(run: run, reason: msr.reason, index: msr.index, data: msr.data)
            return Int32(run.pointee.exit_reason) == KVM_EXIT_X86_RDMSR ? .msrRead(exit) : .msrWrite(exit)
        case KVM_EXIT_EXCEPTION:
            let ex = ckvm_run_ex(run)
            return .exception(vector: ex.exception, errorCode: ex.error_code)
        case KVM_EXIT_HYPERCALL:
            let call = ckvm_run_hypercall(run)
            return .hypercall(
                number: call.nr, arguments: withUnsafeBytes(of: call.args) { Array($0.bindMemory(to: UInt64.self)) })
        case KVM_EXIT_IOAPIC_EOI: return .ioapicEOI(vector: ckvm_run_eoi_vector(run))
        case KVM_EXIT_DIRTY_RING_FULL: return .dirtyRingFull
        case KVM_EXIT_X86_BUS_LOCK: return .busLock
        case KVM_EXIT_NOTIFY: return .notify(flags: ckvm_run_notify_flags(run))
        case KVM_EXIT_UNKNOWN: return .unknownHardware(reason: ckvm_run_hw_exit_reason(run))
        default: return .unknown(reason: run.pointee.exit_reason)
        }
    }

    private func words(_ exit: ckvm_coded_exit) -> [UInt64] {
        withUnsafeBytes(of: exit.data) { raw in Array(raw.bindMemory(to: UInt64.self).prefix(Int(min(exit.ndata, 16))))
        }
    }

    // MARK: kvm_run control fields

    /// `kvm_run.immediate_exit`: while set, `KVM_RUN` returns `EINTR` at once instead of entering
    /// the guest. Setting it from another thread, then signalling the vCPU thread, is how a VMM
    /// kicks a vCPU out of the guest without a race. Sequentially consistent atomic accesses.
    public var immediateExit: Bool {
        get { ckvm_run_immediate_exit(runArea) != 0 }
        set { ckvm_run_set_immediate_exit(runArea, newValue ? 1 : 0) }
    }

    /// `kvm_run.request_interrupt_window`: ask for an ``VMExit/irqWindowOpen`` exit as soon as
    /// the guest can take an interrupt (for user-space interrupt controllers).
    public var requestInterruptWindow: Bool {
        get { runArea.pointee.request_interrupt_window != 0 }
        set { runArea.pointee.request_interrupt_window = newValue ? 1 : 0 }
    }

    /// `kvm_run.ready_for_interrupt_injection` after the last exit: with
    /// ``requestInterruptWindow`` set, whether ``interrupt(vector:)`` can inject now.
    public var readyForInterruptInjection: Bool { runArea.pointee.ready_for_interrupt_injection != 0 }

    /// `kvm_run.if_flag`: the guest's RFLAGS.IF after the last exit (only without an in-kernel
    /// LAPIC).
    public var interruptFlag: Bool { runArea.pointee.if_flag != 0 }

    /// `kvm_run.cr8`: the task priority, as of the last exit (only without an in-kernel LAPIC).
    public var cr8: UInt64 { runArea.pointee.cr8 }
    /// `kvm_run.apic_base`: the APIC base MSR, as of the last exit (only without an in-kernel LAPIC).
    public var apicBase: UInt64 { runArea.pointee.apic_base }

    // MARK: Synchronized registers (KVM_CAP_SYNC_REGS)

    /// Which register sets (`KVM_SYNC_X86_REGS`, `_SREGS`, `_EVENTS`) KVM copies into
    /// ``syncRegisters`` on every exit (`kvm_run.kvm_valid_regs`).
    public var syncedRegisterSets: UInt64 {
        get { runArea.pointee.kvm_valid_regs }
        set { runArea.pointee.kvm_valid_regs = newValue }
    }

    /// Which register sets KVM loads from ``syncRegisters`` on the next entry
    /// (`kvm_run.kvm_dirty_regs`); KVM clears it after loading.
    public var dirtySyncedRegisterSets: UInt64 {
        get { runArea.pointee.kvm_dirty_regs }
        set { runArea.pointee.kvm_dirty_regs = newValue }
    }

    /// The synchronized register block in `kvm_run`: read registers without an ioctl after an
    /// exit, write them and mark them in ``dirtySyncedRegisterSets``. Valid for the vCPU's
    /// lifetime; touch it only from the thread that runs the vCPU.
    public var syncRegisters: UnsafeMutablePointer<kvm_sync_regs> { ckvm_run_sync_regs(runArea) }

    // MARK: Coalesced MMIO

    /// Pops every pending coalesced-MMIO write from the VM's ring (mapped through this vCPU) in
    /// the order the guest made them.
    public func drainCoalescedMMIO() -> [CoalescedMMIOWrite] {
        CoalescedMMIORing(mapping: runMapping)?.drain() ?? []
    }
}
