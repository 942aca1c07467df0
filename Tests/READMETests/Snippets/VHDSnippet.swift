import BlockStorage
import VHD

// README snippet: VHD
func readmeSnippetVHD() throws {
    let options = VHDCreateOptions(type: .dynamic, size: 10 << 30)
    do {
        let disk = try VHDImage.create(path: "disk.vhd", options: options)
        try disk.write([UInt8](repeating: 0xAB, count: 4096), at: 1 << 20)
        try disk.flush()
    }  // closed here: a parent is opened under its child only while nothing writes it
    let child = try VHDImage.createDifferencing(path: "child.vhd", parentPath: "disk.vhd")
    print(child.diskType, child.capacity)
}
