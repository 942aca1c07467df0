import GuestMemory

extension DescriptorChain {
    /// Copies the chain's readable bytes, from `offset` into them, to `destination` (as many as
    /// fit); returns the number copied. The buffers were checked to lie in guest memory when the
    /// chain was read, so only a concurrent hot-unplug makes this throw.
    public func gather(
        from memory: some GuestMemoryAccess, skipping offset: UInt64 = 0,
        into destination: UnsafeMutableRawBufferPointer
    ) throws(GuestMemoryError) -> Int {
        guard let base = destination.baseAddress else { return 0 }
        var done = 0
        let window = BufferWindow(buffers: readable, offset: offset, count: UInt64(destination.count))
        for (address, length) in window {
            try memory.read(into: UnsafeMutableRawBufferPointer(start: base + done, count: length), at: address)
            done += length
        }
        return done
    }

    /// Copies `source` into the chain's writable buffers from `offset` into them (as much as
    /// fits); returns the number of bytes written.
    public func scatter(
        _ source: UnsafeRawBufferPointer, into memory: some GuestMemoryAccess, at offset: UInt64 = 0
    ) throws(GuestMemoryError) -> Int {
        guard let base = source.baseAddress else { return 0 }
        var done = 0
        for (address, length) in BufferWindow(buffers: writable, offset: offset, count: UInt64(source.count)) {
            try memory.write(UnsafeRawBufferPointer(start: base + done, count: length), at: address)
            done += length
        }
        return done
    }
}
