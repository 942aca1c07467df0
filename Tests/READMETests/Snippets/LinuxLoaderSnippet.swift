import GuestMemory
import LinuxLoader

// README snippet: LinuxLoader
func readmeSnippetLinuxLoader() throws {
    let memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: .zero, size: 256 << 20)])
    let kernel = try KernelImage(contentsOf: "vmlinuz")
    let loaded = try kernel.load(into: memory)
    print(loaded.kind, loaded.range, loaded.entry64 as Any, loaded.pvhEntry as Any)
}
