import Synchronization
import VCPUScheduler

/// A VM's place under a shared dispatcher (a ``VMManager`` with ``VMManagerScheduling``): the
/// dispatcher, the VM's scheduler id, its current share, and its vCPUs' accounting once they
/// have left the dispatcher.
final class SchedulerMembership: Sendable {
    let dispatcher: any VCPUDispatching
    let vm: VMID
    /// The share in force (the configuration's until resized).
    let share: Mutex<SchedulingConfiguration>
    /// Each vCPU's accounting as the dispatcher handed it back when the VM stopped.
    let final = Mutex<[VCPUAccounting]?>(nil)

    init(dispatcher: any VCPUDispatching, vm: VMID, share: SchedulingConfiguration) {
        self.dispatcher = dispatcher
        self.vm = vm
        self.share = Mutex(share)
    }

    /// The scheduler's id of vCPU `index`.
    func id(_ index: Int) -> VCPUID { VCPUID(vm: vm, index: UInt32(index)) }
}
