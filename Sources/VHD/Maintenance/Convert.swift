import BlockStorage

/// Target formats of ``convertImage(source:destination:to:blockSize:progress:)``.
public enum ImageFormat: String, Sendable, CaseIterable {
    /// A raw file (sparse where the source reads as zeros).
    case raw
    /// A fixed VHD.
    case fixed
    /// A dynamic VHD (blocks allocated only where the source has data).
    case dynamic
}

/// What ``openImage(path:readOnly:as:locking:)`` takes a file for.
public enum ImageKind: String, Sendable, CaseIterable {
    /// A VHD when the file carries a VHD footer (at the end or at offset 0), else raw.
    case auto
    /// A raw disk, whatever its bytes look like.
    case raw
    /// A VHD of any type.
    case vhd
}

/// Opens `path` as `kind`. With `.auto`, a file that carries a VHD footer (at the end or at
/// offset 0) is opened as a VHD, else as a raw image, and a damaged VHD is reported, not read
/// as raw. A raw disk whose last sector happens to hold a footer (a guest may write one there)
/// is ambiguous: pass `.raw`. (BlockStorage's `openDiskImage(path:readOnly:format:among:locking:)` with
/// ``VHDDiskImageFormat/standardFormats`` does the same for any set of formats.) The image
/// is locked as `locking` says (see ``VHDImage/open(path:readOnly:locking:)``); the probe
/// itself takes no lock.
public func openImage(
    path: String, readOnly: Bool = true, as kind: ImageKind = .auto, locking: ImageLocking = .automatic
) throws(VHDError) -> any BlockDevice {
    func raw() throws(VHDError) -> any BlockDevice {
        try lifting { () throws(BlockDeviceError) in try RawImage(path: path, readOnly: readOnly, locking: locking) }
    }
    switch kind {
    case .raw: return try raw()
    case .vhd: return try VHDImage.open(path: path, readOnly: readOnly, locking: locking)
    case .auto: break
    }
    let looksLikeVHD = try lifting { () throws(BlockDeviceError) in
        let io = try FileImageIO(path: path, readOnly: true, locking: .off)
        return try VHDDiskImageFormat().recognizes(io, size: try io.size())
    }
    if looksLikeVHD { return try VHDImage.open(path: path, readOnly: readOnly, locking: locking) }
    return try raw()
}

/// Copies the disk `source` (raw or any VHD; a differencing chain is flattened) into a new
/// image at `destination`. All-zero runs are not written, so raw and dynamic results stay
/// sparse. `progress` receives the fraction done.
///
/// The new image is written under a temporary name beside `destination` and renamed into
/// place only when complete and synced: a failure leaves any existing file at `destination`
/// as it was and no partial image behind.
///
/// - Throws: ``VHDError/invalidRequest(_:)`` when `destination` is the source's file or one of
///   its parents (under any name), before anything is written.
public func convertImage(
    source: any BlockDevice, destination: String, to format: ImageFormat,
    blockSize: UInt32 = VHDDynamicHeader.defaultBlockSize, progress: (Double) -> Void = { _ in }
) throws(VHDError) {
    // Never write over what is being read: the destination may not be the source's file, or
    // one of its parents, under any name (symbolic or hard link). Checked before anything is
    // written; the rename below would otherwise replace a file the source still reads.
    if let existing = FileIdentity(path: destination), source.backingFiles().contains(existing) {
        throw .invalidRequest("\(destination) is the source image or one of its parents: refusing to overwrite it")
    }
    let size = source.capacity
    try writeNewFile(at: destination, mapError: VHDError.device) { (temporary) throws(VHDError) in
        let target: any BlockDevice
        switch format {
        case .raw:
            target = try lifting { () throws(BlockDeviceError) in
                try RawImage(creatingInPlace: temporary, size: size)
            }
        case .fixed, .dynamic:
            var options = VHDCreateOptions(type: format == .fixed ? .fixed : .dynamic, size: size)
            options.blockSize = blockSize
            let file = try lifting { () throws(BlockDeviceError) in
                try FileImageIO(path: temporary, readOnly: false, create: true, truncate: true)
            }
            target = try VHDImage.create(io: file, path: destination, options: options)
        }
        try copyDisk(from: source, to: target, progress: progress)
    }
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
