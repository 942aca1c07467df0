import DeviceModel
import HostSupport
import Machine

/// What the guests of a run reported and which VMs stopped, behind one condition: the
/// ``ReportDevice`` of each VM writes here, a watcher per VM records its stop, and the main
/// thread waits on it (no polling).
final class ReportBoard: Sendable {
    /// One VM's part.
    struct Entry: Sendable {
        var reports = ReportDevice.Reports()
        /// Why the VM stopped, once it has.
        var outcome: VirtualMachineOutcome?
    }

    let state: ConditionLock<[Entry]>

    init(vms: Int) { state = ConditionLock(Array(repeating: Entry(), count: vms)) }

    /// VM `index`'s reports so far.
    func reports(_ index: Int) -> ReportDevice.Reports { state.withLock { $0[index].reports } }

    /// Every VM's part.
    var entries: [Entry] { state.withLock { $0 } }

    /// Records (and announces) that VM `index` stopped with `outcome`.
    func stopped(_ index: Int, _ outcome: VirtualMachineOutcome) {
        state.withLock { $0[index].outcome = $0[index].outcome ?? outcome }
    }

    /// Waits until `finished` holds for every VM that has not stopped, or `timeoutSeconds`
    /// pass; returns whether it timed out. `recheck(seconds)` wakes the wait that often for
    /// `giveUp`, which reads what the board is not told about (a failed dispatcher).
    func waitUntilEveryVM(
        _ finished: (ReportDevice.Reports) -> Bool, timeoutSeconds: Double, recheckSeconds: Double? = nil,
        giveUp: () -> Bool = { false }
    ) -> Bool {
        let deadline = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        return state.wait(
            for: { entries, now in
                if entries.allSatisfy({ $0.outcome != nil || finished($0.reports) }) || giveUp() { return false }
                return now >= deadline ? true : nil
            },
            deadline: { _ in
                guard let recheckSeconds else { return deadline }
                return min(deadline, monotonicNanoseconds() + UInt64(recheckSeconds * 1e9))
            })
    }
}

/// The port device the guest reports to (see Guest/guest.S), at port 0x500:
/// `+0` done (0 = success, else the failed step), `+4` checksum, `+8` capacity,
/// `+0x10` one worker result per other vCPU. It writes into its VM's entry of a ``ReportBoard``.
final class ReportDevice: PortIODevice {
    static let base: UInt16 = 0x500
    static let size: UInt16 = 0x20

    struct Reports: Codable, Sendable {
        var done: UInt32?
        var checksum: UInt32?
        var capacity: UInt32?
        var workers: [UInt32] = []
    }

    let board: ReportBoard
    let index: Int

    init(board: ReportBoard, index: Int) {
        self.board = board
        self.index = index
    }

    /// Continues from reports saved with a snapshot.
    func restore(_ reports: Reports) { board.state.withLock { $0[index].reports = reports } }

    func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
    }

    func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer) {
        var value: UInt32 = 0
        for (i, byte) in data.prefix(4).enumerated() { value |= UInt32(byte) << (8 * i) }
        board.state.withLock { entries in
            switch offset {
            case 0: entries[index].reports.done = value
            case 4: entries[index].reports.checksum = value
            case 8: entries[index].reports.capacity = value
            case 0x10: entries[index].reports.workers.append(value)
            default: break
            }
        }
    }
}

/// What a worker vCPU must report: `index << 24 | (Σ k², k = 1 … 2000 + 100·index) mod 2^24`.
func expectedWorkerResult(index: UInt32) -> UInt32 {
    var sum: UInt32 = 0
    for k in 1...(2000 + 100 * index) { sum &+= k &* k }
    return index << 24 | (sum & 0xff_ffff)
}

/// FNV-1a (32-bit), as the guest computes it.
func fnv1a(_ bytes: [UInt8]) -> UInt32 {
    var hash: UInt32 = 0x811c_9dc5
    for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return hash
}
