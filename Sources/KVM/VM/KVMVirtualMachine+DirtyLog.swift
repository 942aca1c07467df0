extension KVMVirtualMachine {
    /// Returns the dirty-page bitmap of a slot registered with ``MemoryRegionFlags/logDirtyPages``
    /// (`KVM_GET_DIRTY_LOG`): bit `i` of word `i / 64` is page `i` of the slot.
    ///
    /// Without manual protection this also clears the log and re-protects the pages; with
    /// ``enableManualDirtyLogProtection(initiallySet:)`` the caller clears with
    /// ``clearDirtyLog(slot:firstPage:bitmap:)``.
    public func dirtyLog(slot: UInt32) throws(KVMError) -> [UInt64] {
        guard let region = slots.withLock({ $0[slot] }) else {
            throw .invalidArgument("memory slot \(slot) was not registered through this VM")
        }
        var bitmap = [UInt64](repeating: 0, count: (region.pageCount + 63) / 64)
        try withMutableBytes(of: &bitmap) { (raw) throws(KVMError) in
            var log = kvm_dirty_log()
            log.slot = slot
            log.dirty_bitmap = raw.baseAddress
            try kvmIoctl(fileDescriptor, CKVM_GET_DIRTY_LOG, input: log, "KVM_GET_DIRTY_LOG")
        }
        return bitmap
    }

    /// Re-protects the pages whose bits are set in `bitmap`, starting at `firstPage` (a multiple
    /// of 64) of the slot (`KVM_CLEAR_DIRTY_LOG`; needs manual protection).
    public func clearDirtyLog(slot: UInt32, firstPage: UInt64 = 0, bitmap: [UInt64]) throws(KVMError) {
        guard let region = slots.withLock({ $0[slot] }) else {
            throw .invalidArgument("memory slot \(slot) was not registered through this VM")
        }
        guard firstPage % 64 == 0, firstPage <= UInt64(region.pageCount) else {
            throw .invalidArgument("first page \(firstPage) must be a multiple of 64 inside the slot")
        }
        // The kernel wants a multiple of 64 pages unless the range reaches the slot's end.
        let pages = min(UInt64(bitmap.count) * 64, UInt64(region.pageCount) - firstPage)
        var copy = bitmap
        try withMutableBytes(of: &copy) { (raw) throws(KVMError) in
            var clear = kvm_clear_dirty_log()
            clear.slot = slot
            clear.num_pages = UInt32(pages)
            clear.first_page = firstPage
            clear.dirty_bitmap = raw.baseAddress
            try kvmIoctl(fileDescriptor, CKVM_CLEAR_DIRTY_LOG, input: clear, "KVM_CLEAR_DIRTY_LOG")
        }
    }

    /// Switches the dirty log to manual protection (`KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2`):
    /// reading the log no longer clears it. With `initiallySet`, newly logged slots start with
    /// every page dirty, which spares the initial write-protection pass on large slots.
    public func enableManualDirtyLogProtection(initiallySet: Bool = false) throws(KVMError) {
        let supported = try check(.manualDirtyLogProtect2)
        guard supported > 0 else { throw .capabilityMissing(.manualDirtyLogProtect2) }
        var flags = UInt64(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
        if initiallySet { flags |= UInt64(KVM_DIRTY_LOG_INITIALLY_SET) }
        try enable(.manualDirtyLogProtect2, arguments: [flags & UInt64(supported)])
    }
}

extension Array where Element == UInt64 {
    /// The indices of the set bits of a dirty bitmap, ascending.
    public var setBitIndices: [Int] {
        var result: [Int] = []
        for (wordIndex, word) in enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                result.append(wordIndex * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }
}
