import HostSupport
import KVM

#if canImport(Glibc)
    import Glibc
#endif

extension VCPURunner {
    /// The body of the vCPU thread.
    func threadMain() {
        KickSignal.unblockOnCurrentThread()
        let tid = HostThread.currentKernelID
        control.withLock { $0.threadID = tid }
        let outcome: VCPUOutcome
        do throws(VCPUError) {
            outcome = try runLoop()
        } catch {
            outcome = .failed(error)
        }
        control.withLock { c in
            c.request = nil
            c.threadID = nil
            pendingRequest.store(0, ordering: .sequentiallyConsistent)
            Self.apply(.stopped, outcome: outcome, to: &c)
        }
    }

    /// Runs the guest until something ends the run; returns why.
    private func runLoop() throws(VCPUError) -> VCPUOutcome {
        while true {
            if pendingRequest.load(ordering: .sequentiallyConsistent) != 0 {
                if let outcome = try serviceRequests() { return outcome }
            }
            let exit: VMExit
            do throws(KVMError) { exit = try vcpu.run() } catch { throw .kvm(error) }
            let start = monotonicNanoseconds()
            if case .interrupted = exit { statistics.recordKickExit(at: start) }
            let action = try dispatch(exit)
            statistics.record(exit.kind, nanoseconds: monotonicNanoseconds() &- start)
            if case .stop(let outcome) = action { return outcome }
        }
    }

    /// Handles pause and stop requests on the vCPU thread. Returns an outcome when the run
    /// must end.
    ///
    /// Every change of `pendingRequest` happens under the control lock together with the
    /// request it announces, so a request made while an earlier one is being consumed is never
    /// lost.
    private func serviceRequests() throws(VCPUError) -> VCPUOutcome? {
        // Clear the kick before reading the request (both sequentially consistent): a kick that
        // lands after this either is seen below or leaves immediate_exit set for the next run.
        vcpu.immediateExit = false
        let action = control.withLock { c -> VCPUAction? in
            guard let request = c.request, request == .pause || request == .stop else {
                pendingRequest.store(0, ordering: .sequentiallyConsistent)
                return nil
            }
            return request
        }
        guard let action else { return nil }
        try completePendingOperation()
        if action == .stop { return .stoppedByOwner }

        transition(to: .paused)
        // Park until the owner resumes or stops.
        let next = control.wait(until: { $0.request == .resume || $0.request == .stop }) { c -> VCPUAction? in
            guard c.request == .resume else { return c.request }
            c.request = nil
            pendingRequest.store(0, ordering: .sequentiallyConsistent)
            Self.apply(.running, to: &c)
            return .resume
        }
        return next == .stop ? .stoppedByOwner : nil
    }

    /// Re-enters `KVM_RUN` once with `immediate_exit` set: KVM finishes an IN, MMIO read or
    /// other half-done instruction, then returns without running the guest further.
    func completePendingOperation() throws(VCPUError) {
        vcpu.immediateExit = true
        defer { vcpu.immediateExit = false }
        let exit: VMExit
        do throws(KVMError) { exit = try vcpu.run() } catch { throw .kvm(error) }
        guard case .interrupted = exit else {
            throw .unhandledExit(exit.kind, detail: "KVM ran the guest while immediate_exit was set")
        }
    }

    /// Routes one exit: I/O to the buses, everything else to the handler and the defaults.
    @inline(__always)
    private func dispatch(_ exit: VMExit) throws(VCPUError) -> ExitAction {
        switch exit {
        case .io(let io):
            dispatchPortIO(io)
            return .resume
        case .mmio(let access):
            dispatchMMIO(access)
            return .resume
        case .interrupted:
            // A kick with no request (or one already served): re-arm and look again at the top
            // of the loop.
            vcpu.immediateExit = false
            return .resume
        default:
            if let handler {
                let action = handler.handle(exit, vcpu: vcpu)
                if case .unhandled = action {} else { return action }
            }
            return try defaultAction(exit)
        }
    }

    /// Port I/O, string I/O flattened into `count` accesses of `size` bytes.
    @inline(__always)
    private func dispatchPortIO(_ io: IOExit) {
        guard let (device, offset) = portIO.lookup(UInt64(io.port)) else {
            unclaimed.add(UInt64(io.count), ordering: .relaxed)
            if io.direction == .in { for i in io.data.indices { io.data[i] = 0xff } }
            return
        }
        let port = io.port
        let offset16 = UInt16(truncatingIfNeeded: offset)
        if io.count == 1 {
            if io.direction == .in {
                device.read(port: port, offset: offset16, into: io.data)
            } else {
                device.write(port: port, offset: offset16, from: UnsafeRawBufferPointer(io.data))
            }
            return
        }
        for i in 0..<io.count {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: io.data[(i * io.size)..<((i + 1) * io.size)])
            if io.direction == .in {
                device.read(port: port, offset: offset16, into: chunk)
            } else {
                device.write(port: port, offset: offset16, from: UnsafeRawBufferPointer(chunk))
            }
        }
    }

    @inline(__always)
    private func dispatchMMIO(_ access: MMIOExit) {
        guard let (device, offset) = mmio.lookup(access.address) else {
            unclaimed.add(1, ordering: .relaxed)
            if !access.isWrite { for i in access.data.indices { access.data[i] = 0xff } }
            return
        }
        if access.isWrite {
            device.write(address: access.address, offset: offset, from: UnsafeRawBufferPointer(access.data))
        } else {
            device.read(address: access.address, offset: offset, into: access.data)
        }
    }

    /// What happens to an exit no handler took.
    private func defaultAction(_ exit: VMExit) throws(VCPUError) -> ExitAction {
        switch exit {
        case .hlt: return .stop(.halted)
        case .shutdown: return .stop(.shutdown)
        case .systemEvent(let event): return .stop(.systemEvent(event.kind))
        case .failEntry(let reason, _): throw .failEntry(hardwareReason: reason)
        case .internalError(let suberror, let data): throw .internalError(suberror: suberror, data: data)
        case .irqWindowOpen, .ioapicEOI: return .resume
        case .msrRead(let msr):
            msr.fail()  // an MSR nobody emulates: #GP in the guest, as on hardware
            return .resume
        case .msrWrite(let msr):
            msr.fail()
            return .resume
        case .unknown(let reason): throw .unhandledExit(.unknown, detail: "exit reason \(reason)")
        case .unknownHardware(let reason):
            throw .unhandledExit(.unknownHardware, detail: "hardware exit reason 0x\(String(reason, radix: 16))")
        default: throw .unhandledExit(exit.kind, detail: "no handler for \(exit.kind)")
        }
    }
}
