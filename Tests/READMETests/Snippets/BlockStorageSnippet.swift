import BlockStorage

// README snippet: BlockStorage
func readmeSnippetBlockStorage() throws {
    let disk: any BlockDevice = try RawImage(creating: "disk.img", size: 1 << 20)
    try disk.write([UInt8](repeating: 0xAB, count: 4096), at: 8 * 512)
    try disk.flush()  // durable from here
    let sector = try disk.read(at: 8 * 512, length: disk.logicalSectorSize)
    print(disk.sectorCount, sector[0])  // 2048 171
}
