import BlockStorage
import DeviceModel
import Devices
import GuestMemory
import HostSupport
import KVM
import LinuxLoader
import ResourceAllocator
import Scheduling
import VCPU
import VCPUScheduler

#if canImport(Glibc)
    import Glibc
#endif

/// A virtual machine built from a ``VirtualMachineConfiguration``: guest RAM from the platform
/// layout, KVM's in-kernel IRQ chip and PIT, the boot image (a flat binary, or a Linux kernel
/// with initrd, boot parameters and ACPI tables), COM1, the i8042, a CMOS clock, port 0x80, ACPI
/// power control and a virtio-blk device per disk; one runner per vCPU.
///
/// ```swift
/// let vm = try VirtualMachine(configuration: configuration)   // validated, then built
/// try vm.start()
/// for await state in vm.stateChanges() { print(state) }        // running … stopped: <outcome>
/// ```
///
/// Its life is an explicit state machine (``VirtualMachineState``): ``start()`` from `created`,
/// ``pause()`` and ``resume()`` between `running` and `paused`, ``stop()`` from anywhere (and
/// again, harmlessly); ``started()``, ``paused()``, ``resumed()`` and ``stopped(requesting:)`` are
/// their async forms, which suspend the task instead of blocking a thread. The guest ends it too — powering off, resetting, a vCPU failing — and the
/// ``VirtualMachineOutcome`` says which; the first reason wins. Nothing polls: state changes
/// reach ``stateChanges()`` streams and ``stopped()`` waiters as they happen.
public final class VirtualMachine: Sendable {
    /// The configuration it was built from.
    public let configuration: VirtualMachineConfiguration
    /// The platform layout (RAM regions, MMIO windows, IRQs) the VM was placed in.
    public let layout: X86_64Layout
    /// Guest RAM.
    public let memory: GuestMemoryMap
    /// The vCPU runners, in vCPU order.
    public let runners: [VCPURunner<KVMVirtualCPU>]
    /// The serial console (COM1): its `enqueueInput(_:)` types into it.
    public let serial: Serial16550
    /// Where each disk's virtio-mmio window and interrupt are, in disk order.
    public let diskPlacements: [DevicePlacement]
    /// The virtio console (``VirtualMachineConfiguration/virtioConsole``): its statistics, its
    /// size (`setSize(columns:rows:)`).
    public let virtioConsole: VirtioConsoleDevice?
    /// Where the virtio console's window and interrupt are.
    public let virtioConsolePlacement: DevicePlacement?
    /// The virtio console's input: what is appended is typed into the guest (kept until the
    /// driver takes it); `nil` without a virtio console.
    public var virtioConsoleInput: ConsoleInputBuffer? { virtioConsole?.input as? ConsoleInputBuffer }
    /// The entropy device (``VirtualMachineConfiguration/entropy``): its statistics.
    public let entropyDevice: VirtioEntropyDevice?
    /// Where the entropy device's window and interrupt are.
    public let entropyPlacement: DevicePlacement?
    /// The vsock device (``VirtualMachineConfiguration/vsock``): its statistics and connections.
    public let vsockDevice: VirtioVsockDevice?
    /// Where the vsock device's window and interrupt are.
    public let vsockPlacement: DevicePlacement?
    /// The network cards (``VirtualMachineConfiguration/networks``), in order: statistics,
    /// `setLinkUp(_:)`, their rate limiters.
    public let networkDevices: [VirtioNetDevice]
    /// Where each network card's window and interrupt are.
    public let networkPlacements: [DevicePlacement]
    /// What the boot step put in guest memory (kernel range, entry, initrd), for reports.
    public let bootSummary: String

    let kvm: KVMSystem
    let vm: KVMVirtualMachine
    let bridge: GuestMemoryBridge<KVMVirtualMachine>
    let disks: [MachineDisk]
    /// The transports of the virtio console, the entropy device and the vsock device.
    let consoleTransport: VirtioMMIOTransport?
    let entropyTransport: VirtioMMIOTransport?
    let vsockTransport: VirtioMMIOTransport?
    let networkTransports: [VirtioMMIOTransport]
    /// The event loops serving the virtio devices.
    let deviceService: DeviceService
    let controller: LifecycleController
    /// The shared dispatcher's hold on the vCPUs (under a ``VMManager`` that schedules), with
    /// their gated wrappers; `nil` and empty when each vCPU has a host thread of its own.
    let membership: SchedulerMembership?
    let gated: [GatedVCPU<KVMVirtualCPU>]
    /// Interrupt lines and console file kept alive as long as the VM.
    let keepAlive: KeepAlive

    /// Validates `configuration` and builds the VM (nothing runs until ``start()``), with the
    /// embedder's `devices` on its buses next to the built-in ones.
    ///
    /// - Throws: ``VirtualMachineError/invalidConfiguration(_:)`` with every problem, before
    ///   anything is created; ``VirtualMachineError/build(step:_:)`` naming the step that failed
    ///   (a device window that overlaps another is the step "devices"; whatever was created is
    ///   released).
    ///
    /// Its virtio devices are served as ``VirtualMachineConfiguration/deviceService`` says, or on
    /// `eventLoop` when given: a loop the embedder shares among VMs, and starts and stops
    /// itself (the VM only puts its devices on it while it runs).
    public convenience init(
        configuration: VirtualMachineConfiguration, devices: [DeviceAttachment] = [], eventLoop: EventLoop? = nil
    ) throws(VirtualMachineError) {
        let kernel = try configuration.validatedKernel(or: VirtualMachineError.invalidConfiguration)
        try self.init(
            validated: configuration, kernel: kernel, devices: devices, membership: nil, eventLoop: eventLoop)
    }

    /// Builds a VM from a configuration that has passed validation, with the kernel that
    /// validation parsed (read and parsed once).
    /// With a `membership`, the vCPUs run only in the slices a shared dispatcher grants them.
    init(
        validated configuration: VirtualMachineConfiguration, kernel: KernelImage?, devices: [DeviceAttachment],
        membership: SchedulerMembership?, eventLoop: EventLoop?
    ) throws(VirtualMachineError) {
        let controller = LifecycleController()
        let parts = try MachineBuilder(
            configuration: configuration, controller: controller, devices: devices, kernel: kernel,
            membership: membership, eventLoop: eventLoop
        ).build()
        self.configuration = configuration
        self.controller = controller
        (kvm, vm, bridge, layout, memory) = (parts.kvm, parts.vm, parts.bridge, parts.layout, parts.memory)
        (runners, serial, disks, diskPlacements) = (parts.runners, parts.serial, parts.disks, parts.diskPlacements)
        deviceService = parts.deviceService
        (virtioConsole, virtioConsolePlacement, consoleTransport) = (
            parts.virtioConsole?.device, parts.virtioConsole?.placement, parts.virtioConsole?.transport
        )
        (entropyDevice, entropyPlacement, entropyTransport) = (
            parts.entropy?.device, parts.entropy?.placement, parts.entropy?.transport
        )
        (vsockDevice, vsockPlacement, vsockTransport) = (
            parts.vsock?.device, parts.vsock?.placement, parts.vsock?.transport
        )
        (networkDevices, networkPlacements, networkTransports) = (
            parts.networks.map(\.device), parts.networks.map(\.placement), parts.networks.map(\.transport)
        )
        (bootSummary, keepAlive) = (parts.bootSummary, parts.keepAlive)
        (self.membership, gated) = (membership, parts.gated)
        let runners = self.runners, deviceService = self.deviceService, gated = self.gated
        let console = self.virtioConsole, pump = keepAlive.outputPump
        controller.setStopAll {
            if let membership {
                // Out of the dispatcher first (a running slice is preempted and waited for, the
                // vCPU parked), keeping what each was charged; then the threads end.
                // Under the share's lock, which a start holds while it adds them: none is added
                // after this.
                let final = membership.share.withLock { _ in
                    gated.map { membership.dispatcher.remove($0.schedulingID) ?? VCPUAccounting() }
                }
                membership.final.withLock { $0 = final }
            }
            for runner in runners { _ = runner.stop() }
            // The guest's last console output (written by the device on its loop, copied by the
            // pump's thread) reaches standard output before the VM reports that it stopped.
            if let console, let pump { pump.drain(console, timeoutNanoseconds: 1_000_000_000) }
            deviceService.stop()
        }
    }

    deinit {
        _ = stop()
        controller.joinHelpers()
    }

    /// The current state.
    public var state: VirtualMachineState { controller.state }

    /// The outcome, once stopped.
    public var outcome: VirtualMachineOutcome? {
        if case .stopped(let outcome) = controller.state { return outcome }
        return nil
    }

    /// Puts the disks on their event loop (or serves them inline) and starts every vCPU (under a scheduling ``VMManager``: hands
    /// every vCPU to the shared dispatcher, which starts it in its first slice).
    ///
    /// - Throws: ``VirtualMachineError/invalidTransition(from:action:)`` unless `created`;
    ///   ``VirtualMachineError/vcpu(index:_:)`` when a vCPU thread cannot start (the VM is then
    ///   stopped with that failure).
    public func start() throws(VirtualMachineError) {
        try controller.transition(from: .created, to: .running, action: "start") { () throws(VirtualMachineError) in
            do {
                try deviceService.start()
            } catch {
                throw .build(step: "device service", "the disks' event loop did not start: \(error)")
            }
            // Requests a restored guest had made available before its snapshot.
            for disk in disks { disk.transport.processQueues() }
            if let membership {
                // Under the share's lock, so that a resize meanwhile is not lost.
                let added = try membership.share.withLock { (share) throws(VirtualMachineError) -> Int in
                    let parameters: SchedulingParameters
                    do {
                        parameters = try share.parameters()
                    } catch {
                        throw .scheduling("\(error)")
                    }
                    for (index, gated) in gated.enumerated() {
                        if controller.isStopping { return index }
                        do throws(DispatcherError) {
                            try membership.dispatcher.add(gated, parameters: parameters, runnable: true)
                        } catch {
                            throw .scheduling("vCPU \(index): \(error)")
                        }
                    }
                    return gated.count
                }
                for index in 0..<added { try watch(gated[index].runner, index: index) }
                return
            }
            for (index, runner) in runners.enumerated() {
                // The guest may end the run before the last vCPU starts (vCPU 0 powering off at
                // once): the VM is then stopped, and there is nothing left to start.
                if controller.isStopping { break }
                do throws(VCPUError) {
                    try runner.start()
                } catch {
                    if controller.isStopping { break }
                    throw .vcpu(index: index, error)
                }
                try watch(runner, index: index)
            }
        }
    }

    /// Parks every vCPU outside the guest (pending I/O completed), in vCPU order. Under a
    /// scheduling ``VMManager`` the dispatcher suspends them (a running slice ends first).
    public func pause() throws(VirtualMachineError) {
        try controller.transition(from: .running, to: .paused, action: "pause") { () throws(VirtualMachineError) in
            if let membership {
                try forEachScheduledVCPU(membership) { (dispatcher, id) throws(DispatcherError) in
                    try dispatcher.suspend(id)
                }
                return
            }
            for (index, runner) in runners.enumerated() {
                do throws(VCPUError) { try runner.pause() } catch { throw .vcpu(index: index, error) }
            }
        }
    }

    /// Lets every vCPU run again.
    public func resume() throws(VirtualMachineError) {
        try controller.transition(from: .paused, to: .running, action: "resume") { () throws(VirtualMachineError) in
            if let membership {
                try forEachScheduledVCPU(membership) { (dispatcher, id) throws(DispatcherError) in
                    try dispatcher.resume(id)
                }
                return
            }
            for (index, runner) in runners.enumerated() where runner.state == .paused {
                do throws(VCPUError) { try runner.resume() } catch { throw .vcpu(index: index, error) }
            }
        }
    }

    /// Stops the VM (from any state; a stopped VM is left as it is) and returns its outcome:
    /// ``VirtualMachineOutcome/stoppedByOwner`` unless the guest had already ended the run.
    @discardableResult
    public func stop() -> VirtualMachineOutcome {
        controller.finish(.stoppedByOwner, synchronously: true)
        return controller.waitUntilStopped()
    }

    /// Waits until the VM has stopped; returns why.
    public func waitUntilStopped() -> VirtualMachineOutcome { controller.waitUntilStopped() }

    /// Waits until the VM has stopped or `seconds` have passed; the outcome, or `nil` on timeout.
    public func waitUntilStopped(timeout seconds: Double) -> VirtualMachineOutcome? {
        controller.waitUntilStopped(timeout: seconds)
    }

    /// Suspends until the VM has stopped; returns why.
    public func stopped() async -> VirtualMachineOutcome {
        for await state in stateChanges() {
            if case .stopped(let outcome) = state { return outcome }
        }
        return controller.waitUntilStopped()
    }

    /// Every state from now on, starting with the current one; the stream finishes after
    /// `stopped`.
    public func stateChanges() -> AsyncStream<VirtualMachineState> { controller.subscribe() }

    /// What each disk has served so far, in disk order (see ``DiskUsage``).
    public var diskUsage: [DiskUsage] { disks.map(DiskUsage.init) }

    /// What the event loops serving the VM's devices did (one entry per loop; several VMs on a
    /// shared loop see the same figures): handler calls, wake-ups, polling turns and the CPU time
    /// polling took. Empty for inline service.
    public var eventLoopStatistics: [EventLoop.Statistics] { deviceService.loopStatistics }

    /// Each vCPU's share of the run so far: exits, and T_cpu / T_io / T_wait (see ``VCPUUsage``).
    public var vcpuUsage: [VCPUUsage] {
        runners.enumerated().map { index, runner in
            VCPUUsage(index: index, statistics: runner.statistics, threadID: runner.threadID)
        }
    }

    /// Applies `change` (suspend, resume) to each vCPU in the shared dispatcher, in vCPU order.
    /// A refusal because a stop took the vCPUs out meanwhile ends it quietly (the stop wins).
    private func forEachScheduledVCPU(
        _ membership: SchedulerMembership,
        _ change: (any VCPUDispatching, VCPUID) throws(DispatcherError) -> Void
    ) throws(VirtualMachineError) {
        for (index, gated) in gated.enumerated() {
            do throws(DispatcherError) { try change(membership.dispatcher, gated.schedulingID) } catch {
                if controller.isStopping { return }
                throw .scheduling("vCPU \(index): \(error)")
            }
        }
    }

    /// Waits (on a thread of its own) for `runner` to end and stops the VM with the outcome.
    private func watch(_ runner: VCPURunner<KVMVirtualCPU>, index: Int) throws(VirtualMachineError) {
        let controller = self.controller, memory = self.memory
        let spawned = controller.spawnHelper {
            let outcome = runner.waitUntilStopped()
            let machineOutcome = VirtualMachineOutcome.from(outcome, vcpu: index) {
                failingInstruction(of: runner.vcpu, in: memory)
            }
            if let machineOutcome { controller.finish(machineOutcome, synchronously: false) }
        }
        if !spawned { throw .vcpu(index: index, .threadCreation(EAGAIN)) }
    }
}

/// The stopped vCPU's RIP and, when its page tables map it to guest RAM, the 15 bytes there.
func failingInstruction(of vcpu: KVMVirtualCPU, in memory: GuestMemoryMap) -> (rip: UInt64, bytes: [UInt8]?)? {
    guard let rip = try? vcpu.registers().rip else { return nil }
    var linear = rip
    if let sregs = try? vcpu.specialRegisters(), sregs.cr0 & 1 == 0 || sregs.efer & 0x400 == 0 {
        linear &+= sregs.cs.base  // real or protected mode: CS base + EIP
    }
    guard let translation = try? vcpu.translate(linear), translation.valid else { return (rip, nil) }
    return (rip, try? memory.readBytes(count: 15, at: GuestAddress(translation.physicalAddress)))
}
