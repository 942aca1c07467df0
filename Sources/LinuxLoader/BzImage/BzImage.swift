import GuestMemory

/// A bzImage: real-mode setup code, then the protected-mode kernel (which decompresses the
/// rest itself), entered through the 64-bit boot protocol at its load address + 0x200 with the
/// zero page in RSI.
public struct BzImage: Sendable {
    /// The validated setup header.
    public let header: SetupHeader
    let bytes: [UInt8]

    /// Parses and validates the bzImage in `bytes`.
    ///
    /// - Throws: a ``KernelImageError`` naming the field at fault.
    public init(bytes: [UInt8]) throws(KernelImageError) {
        header = try SetupHeader(ByteReader(bytes: bytes))
        self.bytes = bytes
    }

    /// The protected-mode kernel: the bytes after the setup code.
    public var protectedModeKernel: ArraySlice<UInt8> { bytes[Int(header.setupSize)...] }

    /// The setup header's bytes as they go into the zero page (`boot_params.hdr`, from offset
    /// 0x1F1 to the header's end, which byte 0x201 gives).
    public var setupHeaderBytes: ArraySlice<UInt8> {
        let end = min(0x202 + Int(bytes[0x201]), Int(header.setupSize))
        return bytes[Int(SetupHeader.start)..<end]
    }

    /// Copies the protected-mode kernel into guest memory at `address` (default: the kernel's
    /// `pref_address`) and returns where it went and where to enter it.
    ///
    /// The whole of `init_size` from `address` must lie in guest memory (the kernel decompresses
    /// itself there), `address` must be aligned to `kernel_alignment` if the kernel is
    /// relocatable and equal to `pref_address` if it is not; nothing is written unless all of
    /// that holds.
    public func load(into memory: some GuestMemoryAccess, at address: GuestAddress? = nil) throws(KernelImageError)
        -> LoadedKernel
    {
        let target = address?.rawValue ?? header.preferredAddress
        if header.relocatable {
            guard target % UInt64(header.kernelAlignment) == 0, target >= 0x10_0000 else {
                throw .invalidField(
                    field: "load address", value: target,
                    reason: "not at or above 1 MiB and aligned to kernel_alignment (\(header.kernelAlignment) bytes)")
            }
        } else if target != header.preferredAddress {
            throw .invalidField(
                field: "load address", value: target,
                reason:
                    "the kernel is not relocatable: it must be loaded at pref_address 0x\(String(header.preferredAddress, radix: 16))"
            )
        }
        let kernel = protectedModeKernel
        let footprint = max(UInt64(header.initSize), UInt64(kernel.count))
        try requireGuestMemory("the kernel's init_size", at: target, length: footprint, in: memory)
        do {
            try memory.write(contentsOf: kernel, at: GuestAddress(target))
        } catch {
            throw .doesNotFit(what: "the protected-mode kernel", address: target, length: UInt64(kernel.count))
        }
        guard let range = try? GuestAddressRange(start: GuestAddress(target), count: footprint) else {
            throw .doesNotFit(what: "the kernel's init_size", address: target, length: footprint)
        }
        return LoadedKernel(
            kind: .bzImage, range: range,
            entry64: GuestAddress(target + 0x200), pvhEntry: nil, setupHeader: Array(setupHeaderBytes),
            bootProtocolVersion: header.version)
    }
}

/// Fails unless `length` bytes at `address` are writable guest memory (checked before anything
/// is written, so a load is all or nothing).
func requireGuestMemory(_ what: String, at address: UInt64, length: UInt64, in memory: some GuestMemoryAccess)
    throws(KernelImageError)
{
    guard length <= UInt64(Int.max),
        (try? memory.withHostSegments(at: GuestAddress(address), count: Int(length), forWriting: true) { _ in ((), 0) })
            != nil
    else { throw .doesNotFit(what: what, address: address, length: length) }
}
