import Synchronization
import SystemPackage

/// A guest page that a vCPU dirtied, as the dirty ring reports it (`struct kvm_dirty_gfn`).
public struct DirtyPage: Hashable, Sendable, Comparable {
    /// The memory slot (with its address-space id in bits 16–31).
    public let slot: UInt32
    /// The page's index within the slot.
    public let pageOffset: UInt64

    /// Page `pageOffset` of memory slot `slot`.
    public init(slot: UInt32, pageOffset: UInt64) {
        self.slot = slot
        self.pageOffset = pageOffset
    }

    /// Orders by slot, then by page.
    public static func < (a: DirtyPage, b: DirtyPage) -> Bool {
        (a.slot, a.pageOffset) < (b.slot, b.pageOffset)
    }
}

/// One vCPU's dirty ring (`KVM_CAP_DIRTY_LOG_RING`): the kernel pushes the guest frame of
/// each page the vCPU dirties; user space collects them, marks them for reset, and calls
/// ``KVMVirtualMachine/resetDirtyRings()`` so KVM re-protects the pages.
final class DirtyRing: Sendable {
    private let mapping: MemoryMapping
    private let entryCount: UInt32
    /// The next entry to look at (user space's fetch index).
    private let fetchIndex = Mutex<UInt32>(0)

    init(vcpu fd: FileDescriptor, bytes: Int) throws(KVMError) {
        mapping = try MemoryMapping(
            fd: fd, size: bytes, pageOffset: Int(CKVM_DIRTY_LOG_PAGE_OFFSET), operation: "mmap dirty ring")
        entryCount = UInt32(bytes / MemoryLayout<kvm_dirty_gfn>.stride)
    }

    /// Collects every published entry in order and marks each for reset.
    func harvest() -> [DirtyPage] {
        let entries = mapping.base.assumingMemoryBound(to: kvm_dirty_gfn.self)
        return fetchIndex.withLock { index in
            var pages: [DirtyPage] = []
            while true {
                let entry = entries + Int(index % entryCount)
                // The acquire load of flags orders the reads of slot and offset after it.
                guard ckvm_dirty_gfn_flags(entry) & CKVM_DIRTY_GFN_F_DIRTY != 0 else { break }
                pages.append(DirtyPage(slot: entry.pointee.slot, pageOffset: entry.pointee.offset))
                ckvm_dirty_gfn_set_flags(entry, CKVM_DIRTY_GFN_F_RESET)
                index &+= 1
            }
            return pages
        }
    }
}

extension KVMVirtualCPU {
    /// Whether this vCPU has a dirty ring (the VM enabled one before creating the vCPU).
    public var hasDirtyRing: Bool { dirtyRingStorage != nil }

    /// Collects the pages this vCPU dirtied since the last harvest, in the order it dirtied
    /// them (a page may appear again after a reset). Call ``KVMVirtualMachine/resetDirtyRings()``
    /// afterwards to re-arm tracking for them.
    ///
    /// - Throws: `.capabilityMissing(.dirtyLogRing)` when the VM has no dirty ring.
    public func harvestDirtyRing() throws(KVMError) -> [DirtyPage] {
        guard let ring = dirtyRingStorage else { throw .capabilityMissing(.dirtyLogRing) }
        return ring.harvest()
    }
}

extension KVMVirtualMachine {
    /// Turns on the per-vCPU dirty ring of `bytes` bytes (a power of two, at most the value of
    /// `KVM_CAP_DIRTY_LOG_RING`; 64 KiB holds 4096 pages). Must be called before any vCPU is
    /// created. Uses the acquire/release variant of the capability when the host has it.
    public func enableDirtyRing(bytes: Int) throws(KVMError) {
        let acqRel = try check(.dirtyLogRingAcqRel)
        let plain = try check(.dirtyLogRing)
        let limit = Int(max(acqRel, plain))
        guard limit > 0 else { throw .capabilityMissing(.dirtyLogRing) }
        guard bytes > 0, bytes & (bytes - 1) == 0, bytes <= limit,
            bytes >= hostPageSize
        else {
            throw .invalidArgument("dirty ring size \(bytes) must be a power of two from \(hostPageSize) to \(limit)")
        }
        try enable(acqRel > 0 ? .dirtyLogRingAcqRel : .dirtyLogRing, arguments: [UInt64(bytes)])
        dirtyRingBytes.store(bytes, ordering: .releasing)
    }

    /// Re-protects every page harvested from every vCPU's dirty ring (`KVM_RESET_DIRTY_RINGS`).
    /// Returns the number of entries reset.
    @discardableResult
    public func resetDirtyRings() throws(KVMError) -> Int {
        Int(try kvmIoctl(fileDescriptor, CKVM_RESET_DIRTY_RINGS, value: 0, "KVM_RESET_DIRTY_RINGS"))
    }
}
