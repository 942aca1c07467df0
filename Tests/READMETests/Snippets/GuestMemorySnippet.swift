import GuestMemory
import SystemPackage

// README snippet: GuestMemory
func readmeSnippetGuestMemory() throws {
    let ram = try MmapRegion(
        guestBase: GuestAddress(0), size: 256 << 20,
        options: .init(noReserve: true, guardPages: 1, trackDirtyPages: true))
    let memory = AtomicGuestMemory(try GuestMemoryMap(regions: [ram]))
    try memory.write(UInt32(0xfeed), at: GuestAddress(0x1000))  // little-endian
    let header: UInt16 = try memory.read(at: GuestAddress(0x1004), endianness: .big)
    let diskFD = try FileDescriptor.open("disk.img", .readOnly)  // swift-system
    _ = try memory.read(from: diskFD, at: 0, into: GuestAddress(0x10_0000), count: 4096)
    try diskFD.close()
    let dirty = try memory.map.collectDirtyPages()  // host writes: 2 pages
    print(header, dirty.count)
}
