import DeviceModel
import GuestMemory
import HostSupport
import Synchronization

/// Constants of the virtio console device (virtio 1.2, section 5.3).
public enum VirtioConsole {
    /// The device id: 3, a console.
    public static let deviceID: UInt32 = 3

    /// Feature bits of the console device.
    public enum Feature {
        /// `VIRTIO_CONSOLE_F_SIZE`: the configuration space holds the console's columns and rows.
        public static let size: UInt64 = 1 << 0
        /// `VIRTIO_CONSOLE_F_MULTIPORT` (not offered: one port).
        public static let multiport: UInt64 = 1 << 1
        /// `VIRTIO_CONSOLE_F_EMERG_WRITE`: a driver may write one character to `emerg_wr`.
        public static let emergencyWrite: UInt64 = 1 << 2
    }

    /// Offsets in the configuration space (`struct virtio_console_config`).
    public enum ConfigOffset {
        /// `cols`, u16.
        public static let columns = 0
        /// `rows`, u16.
        public static let rows = 2
        /// `max_nr_ports`, u32.
        public static let maxPorts = 4
        /// `emerg_wr`, u32 (write-only).
        public static let emergencyWrite = 8
        /// The size of the structure.
        public static let size = 12
    }

    /// Queue indices of port 0.
    public enum Queue {
        /// `receiveq0`: buffers the device fills with input for the guest.
        public static let receive = 0
        /// `transmitq0`: the guest's output.
        public static let transmit = 1
    }
}

/// A virtio console (virtio-console, device id 3) with one port, port 0: the guest's output goes
/// to a ``ConsoleOutput`` and a ``ConsoleInput`` feeds its input, both chosen by the embedder
/// (a pipe or socket through ``FileDescriptorConsole``, memory through ``ConsoleOutputBuffer`` and
/// ``ConsoleInputBuffer``).
///
/// Both queues are device-driven (``VirtioDeviceBackend/deviceDrivenQueues``), which is how the
/// device stays safe with slow and absent peers:
/// - output: the guest's transmit chains are copied into a bounded output buffer and completed;
///   when the buffer is full the remaining chains stay in the ring — the driver waits, no byte is
///   dropped, no vCPU blocks — until the output takes more (the device's event loop watches the
///   output's ``ConsoleOutput/writableSignal`` only while bytes wait). A chain larger than the
///   buffer is taken in parts. Output whose reader went away is discarded and counted.
/// - input: bytes read from the input wait in a bounded input buffer until the driver posts
///   receive buffers — input that arrives before the driver is ready is kept, not lost; while
///   that buffer is full the device stops reading its input (back-pressure on the writer).
///
/// Serve it on an event loop with its transport (`loop.serve(transport)` registers the input's
/// and output's signals with the transport's own). `VIRTIO_CONSOLE_F_SIZE` (``setSize(columns:rows:)``
/// signals a configuration change) and `VIRTIO_CONSOLE_F_EMERG_WRITE` are offered; multiport is not.
public final class VirtioConsoleDevice: VirtioDeviceBackend {
    /// Queue size offered for both queues.
    public let queueSize: UInt16
    /// The most output bytes held while the output is slow.
    public let outputCapacity: Int
    /// The most input bytes held while the driver posts no receive buffers.
    public let inputCapacity: Int
    /// Where the guest's output goes (`nil`: discarded, counted).
    public let output: (any ConsoleOutput)?
    /// Where the guest's input comes from (`nil`: none).
    public let input: (any ConsoleInput)?

    struct State {
        var columns: UInt16
        var rows: UInt16
        var outbox = ByteFIFO()
        var inbox = ByteFIFO()
        /// A transmit chain taken in part: its head and the readable bytes already copied.
        var partialTransmit: (head: UInt16, offset: UInt64)?
        var outputClosed = false
        var inputEnded = false
        var waitingForOutput = false
        var waitingForInput = true
        var statistics = VirtioConsoleStatistics()
    }

    private let state: Mutex<State>
    private let transport = TransportLink()
    /// The interests of the device's event sources: one per descriptor (an endpoint used for
    /// both directions, such as a socket, has one descriptor and one source).
    private let inputInterest: DeviceEventInterest?
    private let outputInterest: DeviceEventInterest?
    private let sharedDescriptor: Bool

    /// A console writing the guest's output to `output` and reading its input from `input`,
    /// with the given console size (reported with `VIRTIO_CONSOLE_F_SIZE`).
    ///
    /// - Throws: ``VirtqueueError/invalidSize(_:)`` unless `queueSize` is a power of two from 2
    ///   to 32768, or when a capacity is not positive (carried as the size).
    public init(
        output: (any ConsoleOutput)?, input: (any ConsoleInput)? = nil, columns: UInt16 = 80, rows: UInt16 = 25,
        queueSize: UInt16 = 64, outputCapacity: Int = 64 << 10, inputCapacity: Int = 64 << 10
    ) throws(VirtqueueError) {
        guard queueSize >= 2, queueSize <= 32768, queueSize & (queueSize - 1) == 0 else {
            throw .invalidSize(UInt32(queueSize))
        }
        guard outputCapacity > 0, inputCapacity > 0 else { throw .invalidSize(0) }
        self.queueSize = queueSize
        self.outputCapacity = outputCapacity
        self.inputCapacity = inputCapacity
        self.output = output
        self.input = input
        state = Mutex(State(columns: columns, rows: rows))
        let inputSignal = input?.readableSignal, outputSignal = output?.writableSignal
        sharedDescriptor =
            inputSignal != nil && outputSignal != nil && outputSignal?.descriptor == inputSignal?.descriptor
        inputInterest = inputSignal.map { DeviceEventInterest($0.events) }
        outputInterest = sharedDescriptor ? nil : outputSignal.map { _ in DeviceEventInterest([]) }
    }

    /// 3, a console.
    public var deviceID: UInt32 { VirtioConsole.deviceID }
    /// `VERSION_1`, `VIRTIO_CONSOLE_F_SIZE` and `VIRTIO_CONSOLE_F_EMERG_WRITE`.
    public var deviceFeatures: UInt64 {
        VirtioFeature.version1 | VirtioConsole.Feature.size | VirtioConsole.Feature.emergencyWrite
    }
    /// `receiveq0` and `transmitq0`.
    public var queueSizeMax: [UInt16] { [queueSize, queueSize] }
    /// Both queues: the device fills receive buffers when input arrives and takes transmit
    /// chains while its output has room.
    public var deviceDrivenQueues: Set<Int> { [VirtioConsole.Queue.receive, VirtioConsole.Queue.transmit] }

    /// The console size, as the configuration space reports it.
    public var size: (columns: UInt16, rows: UInt16) { state.withLock { ($0.columns, $0.rows) } }

    /// What the device has moved so far, and what waits.
    public var statistics: VirtioConsoleStatistics {
        state.withLock { s in
            var statistics = s.statistics
            statistics.outputPending = s.outbox.count
            statistics.inputPending = s.inbox.count
            return statistics
        }
    }

    /// Changes the console size and, once the driver is running, tells it (a configuration-change
    /// interrupt).
    public func setSize(columns: UInt16, rows: UInt16) {
        state.withLock { s in
            s.columns = columns
            s.rows = rows
        }
        if let queues = transport.queues, queues.isDriverReady { queues.signalConfigurationChange() }
    }

    /// Reads `struct virtio_console_config`: the size, one port, `emerg_wr` as zero; bytes past
    /// its 12 bytes read as zero.
    public func readConfig(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        var config = VirtioConfigSpace(size: VirtioConsole.ConfigOffset.size)
        let (columns, rows) = size
        config.put(columns, at: VirtioConsole.ConfigOffset.columns)
        config.put(rows, at: VirtioConsole.ConfigOffset.rows)
        config.put(UInt32(1), at: VirtioConsole.ConfigOffset.maxPorts)
        config.read(offset: offset, into: data)
    }

    /// A write to `emerg_wr` outputs its low byte (dropped, and counted, while the output
    /// buffer is full).
    public func writeConfig(offset: UInt64, from data: UnsafeRawBufferPointer) {
        guard offset == UInt64(VirtioConsole.ConfigOffset.emergencyWrite), let byte = data.first else { return }
        state.withLock { s in
            if s.outbox.count < outputCapacity && !s.outputClosed {
                s.outbox.append(CollectionOfOne(byte))
            } else {
                s.statistics.outputDiscarded += 1
            }
        }
        flushOutput()
    }

    /// Never called: both queues are device-driven.
    public func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32 { 0 }

    /// Keeps the transport (weakly) to take chains and signal size changes through.
    public func connect(to queues: any VirtioQueueAccess) {
        transport.connect(queues)
    }

    /// Receive buffers posted: fill them with waiting input. Transmit chains made available:
    /// take them while the output buffer has room, and write it out.
    public func queueNotified(_ queue: Int) {
        switch queue {
        case VirtioConsole.Queue.receive:
            // An input without a signal (a regular file) is read when the driver wants bytes.
            if input != nil && inputInterest == nil { inputReady() } else { deliverInput() }
        case VirtioConsole.Queue.transmit: transmit()
        default: break
        }
    }

    /// The driver's session ends: a transmit chain taken in part is forgotten (its ring is
    /// gone). Pending output and input are kept: they belong to the console, not the session.
    public func driverReset() {
        state.withLock { $0.partialTransmit = nil }
    }

    /// The input's readable signal and the output's writable signal (one source when both are
    /// one descriptor), each watched only while the device wants it.
    public var eventSources: [DeviceEventSource] {
        var sources: [DeviceEventSource] = []
        if let signal = input?.readableSignal, let inputInterest {
            sources.append(
                DeviceEventSource(
                    name: "virtio-console input", descriptor: signal.descriptor, interest: inputInterest
                ) { [self] events in
                    // The output can take more: write what waits, take the chains that waited.
                    if sharedDescriptor && events.contains(.writable) { transmit() }
                    if !sharedDescriptor || !events.isDisjoint(with: [.readable, .hangUp, .error]) { inputReady() }
                })
        }
        if let signal = output?.writableSignal, let outputInterest {
            sources.append(
                DeviceEventSource(
                    name: "virtio-console output", descriptor: signal.descriptor,
                    interest: outputInterest
                ) { [self] _ in transmit() })
        }
        return sources
    }

    // MARK: Output

    /// Takes transmit chains into the output buffer and writes it out, until the chains run out
    /// or the output is full. Again whenever writing made room — also when no chain moved (the
    /// buffer was full): chains may wait for that room, and once the buffer is empty nothing
    /// else would bring the device back to them.
    private func transmit() {
        while true {
            takeTransmitChains()
            if !flushOutput() { return }
        }
    }

    /// Copies transmit chains into the output buffer while it has room.
    private func takeTransmitChains() {
        guard let queues = transport.queues else { return }
        queues.takeChains(queue: VirtioConsole.Queue.transmit) { chain, memory in
            state.withLock { s -> UInt32? in
                let total = chain.readableLength
                var offset: UInt64 = 0
                if let partial = s.partialTransmit, partial.head == chain.head, partial.offset <= total {
                    offset = partial.offset
                }
                if s.outputClosed || output == nil {
                    s.statistics.outputDiscarded += total - offset
                    s.partialTransmit = nil
                    return 0
                }
                let room = outputCapacity - s.outbox.count
                guard room > 0 else { return nil }
                let n = Int(min(total - offset, UInt64(room)))
                let copied = s.outbox.appendUninitialized(n) { buffer in
                    (try? chain.gather(from: memory, skipping: offset, into: buffer)) ?? 0
                }
                offset += UInt64(copied)
                if offset < total && copied == n {
                    s.partialTransmit = (chain.head, offset)
                    return nil  // the rest when the output has room again
                }
                s.partialTransmit = nil
                return 0
            }
        }
    }

    /// Writes the output buffer out until it is empty or the output is full; whether it made
    /// room. Watches the output's signal only while bytes wait.
    @discardableResult
    private func flushOutput() -> Bool {
        guard let output else { return false }
        return state.withLock { s -> Bool in
            var freed = false
            while !s.outbox.isEmpty && !s.outputClosed {
                let result = s.outbox.withFirstBytes { output.write($0) }
                switch result {
                case .wrote(let n):
                    s.outbox.removeFirst(n)
                    s.statistics.bytesOutput += UInt64(n)
                    freed = true
                case .full:
                    setWaitingForOutput(true, &s)
                    return freed
                case .closed:
                    s.outputClosed = true
                    s.statistics.outputDiscarded += UInt64(s.outbox.count)
                    s.outbox.removeAll()
                    freed = true
                }
            }
            setWaitingForOutput(false, &s)
            return freed
        }
    }

    // MARK: Input

    /// Reads the input into the input buffer while it has room, then hands it to the driver.
    private func inputReady() {
        guard let input else { return }
        state.withLock { s in
            while s.inbox.count < inputCapacity && !s.inputEnded {
                let room = min(inputCapacity - s.inbox.count, 4096)
                var result = ConsoleReadResult.empty
                _ = s.inbox.appendUninitialized(room) { buffer in
                    result = input.read(into: buffer)
                    if case .read(let n) = result { return n }
                    return 0
                }
                if case .read = result { continue }
                if case .ended = result { s.inputEnded = true }
                break
            }
            updateInputInterest(&s)
        }
        deliverInput()
    }

    /// Fills receive buffers the driver posted with the input buffer's bytes.
    private func deliverInput() {
        guard let queues = transport.queues else { return }
        queues.takeChains(queue: VirtioConsole.Queue.receive) { chain, memory in
            state.withLock { s -> UInt32? in
                guard !s.inbox.isEmpty else { return nil }
                let n = s.inbox.withFirstBytes { bytes in
                    (try? chain.scatter(
                        UnsafeRawBufferPointer(
                            rebasing: bytes.prefix(Int(min(UInt64(bytes.count), chain.writableLength)))),
                        into: memory)) ?? 0
                }
                s.inbox.removeFirst(n)
                s.statistics.bytesInput += UInt64(n)
                return UInt32(n)
            }
        }
        state.withLock { updateInputInterest(&$0) }
    }

    // MARK: Snapshots

    /// Runs `body` on the device's state (for saving and restoring it).
    func stateForSnapshot<R>(_ body: (inout State) -> R) -> R {
        state.withLock { body(&$0) }
    }

    /// After a restore: write out what waits, take what the guest left in the rings, give the
    /// driver's posted buffers the waiting input.
    func resume() {
        transmit()
        deliverInput()  // which also resumes reading the input if the buffer has room
    }

    // MARK: Interests

    private func updateInputInterest(_ s: inout State) {
        let want = !s.inputEnded && s.inbox.count < inputCapacity
        guard want != s.waitingForInput else { return }
        s.waitingForInput = want
        applyInterests(s)
    }

    private func setWaitingForOutput(_ waiting: Bool, _ s: inout State) {
        guard waiting != s.waitingForOutput else { return }
        s.waitingForOutput = waiting
        applyInterests(s)
    }

    private func applyInterests(_ s: State) {
        var inputEvents: EventLoop.Events = s.waitingForInput ? (input?.readableSignal?.events ?? []) : []
        if sharedDescriptor {
            if s.waitingForOutput { inputEvents.formUnion(output?.writableSignal?.events ?? []) }
        } else {
            try? outputInterest?.set(s.waitingForOutput ? (output?.writableSignal?.events ?? []) : [])
        }
        try? inputInterest?.set(inputEvents)
    }
}

/// What a ``VirtioConsoleDevice`` has moved, and what waits.
public struct VirtioConsoleStatistics: Sendable, Hashable {
    /// Guest output written to the output.
    public var bytesOutput: UInt64 = 0
    /// Input bytes given to the guest.
    public var bytesInput: UInt64 = 0
    /// Guest output discarded: no output, a reader that went away, emergency writes while full.
    public var outputDiscarded: UInt64 = 0
    /// Output bytes waiting for the output to take them.
    public var outputPending: Int = 0
    /// Input bytes waiting for the driver's receive buffers.
    public var inputPending: Int = 0
}

/// The saved state of a ``VirtioConsoleDevice``: its size and the bytes it held between the
/// guest and its peers, so that nothing in flight is lost across a snapshot. The rings
/// themselves are the transport's state and guest memory's.
public struct VirtioConsoleState: Codable, Hashable, Sendable {
    /// A transmit chain the device had taken in part: its head and the bytes already copied.
    public struct PartialChain: Codable, Hashable, Sendable {
        /// The chain's head descriptor.
        public var head: UInt16
        /// How many of its readable bytes were copied into the output buffer.
        public var offset: UInt64

        /// A partly taken chain.
        public init(head: UInt16, offset: UInt64) {
            self.head = head
            self.offset = offset
        }
    }

    /// The console's columns.
    public var columns: UInt16
    /// The console's rows.
    public var rows: UInt16
    /// Guest output not yet written to the output.
    public var pendingOutput: [UInt8]
    /// Input not yet given to the guest.
    public var pendingInput: [UInt8]
    /// The transmit chain taken in part, if any (it is still in the ring: the restored
    /// transport gives it to the device again, which goes on from `offset`).
    public var partialTransmit: PartialChain?

    /// A state with the given fields.
    public init(
        columns: UInt16, rows: UInt16, pendingOutput: [UInt8], pendingInput: [UInt8], partialTransmit: PartialChain?
    ) {
        self.columns = columns
        self.rows = rows
        self.pendingOutput = pendingOutput
        self.pendingInput = pendingInput
        self.partialTransmit = partialTransmit
    }
}

/// Why a saved console state cannot be restored.
public enum VirtioConsoleStateError: Error, Equatable, Sendable {
    /// More pending output than this device's ``VirtioConsoleDevice/outputCapacity``.
    case outputTooLarge(Int, capacity: Int)
    /// More pending input than this device's ``VirtioConsoleDevice/inputCapacity``.
    case inputTooLarge(Int, capacity: Int)
}

extension VirtioConsoleDevice {
    /// Captures the device's state. Take it with the vCPUs paused and the transport off its
    /// loop, so that nothing moves meanwhile.
    public func saveState() -> VirtioConsoleState {
        stateForSnapshot { s in
            VirtioConsoleState(
                columns: s.columns, rows: s.rows, pendingOutput: s.outbox.bytes, pendingInput: s.inbox.bytes,
                partialTransmit: s.partialTransmit.map { .init(head: $0.head, offset: $0.offset) })
        }
    }

    /// Restores a saved state into this (new) device, after its transport's state was restored:
    /// the pending output is written out as the output takes it, and the pending input goes to
    /// the receive buffers the restored driver had posted.
    ///
    /// - Throws: ``VirtioConsoleStateError`` when the state holds more than this device's
    ///   capacities (a state from a device with larger ones, or a forged one); nothing changes.
    public func restoreState(_ saved: VirtioConsoleState) throws(VirtioConsoleStateError) {
        guard saved.pendingOutput.count <= outputCapacity else {
            throw .outputTooLarge(saved.pendingOutput.count, capacity: outputCapacity)
        }
        guard saved.pendingInput.count <= inputCapacity else {
            throw .inputTooLarge(saved.pendingInput.count, capacity: inputCapacity)
        }
        stateForSnapshot { s in
            s.columns = saved.columns
            s.rows = saved.rows
            s.outbox.removeAll()
            s.outbox.append(saved.pendingOutput)
            s.inbox.removeAll()
            s.inbox.append(saved.pendingInput)
            s.partialTransmit = saved.partialTransmit.map { ($0.head, $0.offset) }
        }
        resume()
    }
}
