import ResourceAllocator

// README snippet: ResourceAllocator
func readmeSnippetResourceAllocator() throws {
    var layout = try X86_64Layout(memorySize: 8 << 30)
    let bar = try layout.mmio32.allocate(size: 1 << 20, alignment: 1 << 20)
    let gsi = try layout.msiGSIs.allocate()
    print(bar, gsi, layout.ram.count)  // RAM split around the 32-bit MMIO hole
}
