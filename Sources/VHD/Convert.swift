/// Target formats of ``convertImage(source:destination:to:blockSize:progress:)``.
public enum ImageFormat: String, Sendable, CaseIterable {
    case raw, fixed, dynamic
}

/// Opens `path` as a VHD when it carries a VHD footer (at the end or at offset 0), else as a
/// raw image. Damaged VHDs are reported, not read as raw.
public func openImage(path: String, readOnly: Bool = true) throws(VHDError) -> any BlockDevice {
    let io = try lifting { () throws(BlockDeviceError) in try FileImageIO(path: path, readOnly: true) }
    let size = try lifting { () throws(BlockDeviceError) in try io.size() }
    var looksLikeVHD = false
    if size >= 512 {
        for offset in [size - 512, 0, size % 512 == 511 ? size - 511 : 0] {
            let bytes = try lifting { () throws(BlockDeviceError) in try io.readBytes(at: offset, count: 8) }
            if bytes.ascii(0..<8) == VHDFooter.cookie { looksLikeVHD = true }
        }
    }
    if looksLikeVHD { return try VHDImage.open(path: path, readOnly: readOnly) }
    return try lifting { () throws(BlockDeviceError) in try RawImage(path: path, readOnly: readOnly) }
}

/// Copies the disk `source` (raw or any VHD; a differencing chain is flattened) into a new
/// image at `destination`. All-zero runs are not written, so raw and dynamic results stay
/// sparse. `progress` receives the fraction done.
public func convertImage(
    source: any BlockDevice, destination: String, to format: ImageFormat,
    blockSize: UInt32 = VHDDynamicHeader.defaultBlockSize, progress: (Double) -> Void = { _ in }
) throws(VHDError) {
    let size = source.capacity
    let target: any BlockDevice
    switch format {
    case .raw:
        target = try lifting { () throws(BlockDeviceError) in try RawImage(creating: destination, size: size) }
    case .fixed, .dynamic:
        var options = VHDCreateOptions(type: format == .fixed ? .fixed : .dynamic, size: size)
        options.blockSize = blockSize
        target = try VHDImage.create(path: destination, options: options)
    }
    try copyDisk(from: source, to: target, progress: progress)
}

/// Copies every non-zero 64 KiB run of `source` to the same offset of `target`, then flushes.
func copyDisk(from source: any BlockDevice, to target: any BlockDevice, progress: (Double) -> Void) throws(VHDError) {
    let size = min(source.capacity, target.capacity)
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: chunk)
    var offset: UInt64 = 0
    while offset < size {
        let count = Int(min(UInt64(chunk), size - offset))
        try lifting { () throws(BlockDeviceError) in
            try withMutableBytes(&buffer) { (b) throws(BlockDeviceError) in
                let slice = UnsafeMutableRawBufferPointer(rebasing: b[0..<count])
                try source.read(into: slice, at: offset)
                var run = 0
                while run < count {
                    let end = min(run + 65536, count)
                    let piece = UnsafeRawBufferPointer(rebasing: slice[run..<end])
                    if piece.contains(where: { $0 != 0 }) { try target.write(piece, at: offset + UInt64(run)) }
                    run = end
                }
            }
        }
        offset += UInt64(count)
        progress(Double(offset) / Double(max(size, 1)))
    }
    try lifting { () throws(BlockDeviceError) in try target.flush() }
}
