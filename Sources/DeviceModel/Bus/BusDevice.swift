/// A device on the port-I/O bus.
///
/// The bus calls it from the vCPU threads that take the exits, possibly several at once, so a
/// device protects its own state. `offset` is relative to the base of the range the device was
/// inserted at; `data` is the access (1, 2 or 4 bytes, little-endian).
public protocol PortIODevice: AnyObject, Sendable {
    /// An IN: fill `data`.
    func read(port: UInt16, offset: UInt16, into data: UnsafeMutableRawBufferPointer)
    /// An OUT: `data` is what the guest wrote.
    func write(port: UInt16, offset: UInt16, from data: UnsafeRawBufferPointer)
}

/// A device on the MMIO bus: like ``PortIODevice`` with 64-bit addresses and 1–8 byte accesses.
///
/// Called from the vCPU threads that take the exits, possibly several at once. `address` is the
/// guest physical address of the access and `offset` its distance from the base of the range
/// the device was inserted at.
public protocol MMIODevice: AnyObject, Sendable {
    /// A guest load: fill `data` (its count is the access size, little-endian).
    func read(address: UInt64, offset: UInt64, into data: UnsafeMutableRawBufferPointer)
    /// A guest store: `data` is what the guest wrote (little-endian).
    func write(address: UInt64, offset: UInt64, from data: UnsafeRawBufferPointer)
}
