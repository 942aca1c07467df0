// The same I/O as a dynamic-image run, done with plain syscalls at the file offsets the
// image's BAT gives: what a perfect implementation would cost on this file's layout. The
// difference between a dynamic run and its control is our code; the difference between the
// control and the raw run is the layout (block data 4 KiB-aligned after each bitmap).
import BenchmarkSupport
import BlockStorage
import VHD

struct LayoutControl {
    let path: String
    let bat: [UInt32]
    let blockShift: UInt64
    let blockMask: UInt64
    let bitmapSize: UInt64

    init?(_ image: VHDImage, path: String) {
        guard let header = image.header else { return nil }
        self.path = path
        bat = image.blockAllocationTable
        blockShift = UInt64(header.blockSize.trailingZeroBitCount)
        blockMask = UInt64(header.blockSize) - 1
        bitmapSize = header.bitmapSize
    }

    /// The file offset of disk offset `offset` (its block must be allocated).
    func fileOffset(_ offset: UInt64) -> UInt64 {
        UInt64(bat[Int(offset >> blockShift)]) * 512 + bitmapSize + (offset & blockMask)
    }

    /// Nanoseconds to read 4 KiB at each disk offset straight from the file.
    func timeReads(_ offsets: [UInt64], into page: inout [UInt8]) throws -> UInt64 {
        let fileOffsets = offsets.map(fileOffset)
        // Unlocked: the control reads the file under the image that has it open for writing.
        let file = try FileImageIO(path: path, readOnly: true, locking: .off)
        return try timeNanoseconds {
            try page.withUnsafeMutableBytes { p in
                for offset in fileOffsets where try file.read(into: p, at: offset) != 4096 { fatalError("short read") }
            }
        }
    }

    /// Nanoseconds to write `buffer` (1 MiB) at each MiB of the first `mebibytes` straight to
    /// the file (no block straddles a MiB boundary) with the same write-behind window as the
    /// images, then sync.
    func timeOverwrite(_ buffer: [UInt8], mebibytes: Int, writeBehind: UInt64) throws -> UInt64 {
        let file = try FileImageIO(path: path, readOnly: false, writeBehind: writeBehind, locking: .off)
        return try timeNanoseconds {
            try buffer.withUnsafeBytes { b in
                for i in 0..<UInt64(mebibytes) { try file.write(b, at: fileOffset(i << 20)) }
            }
            try file.sync()
        }
    }
}
