// Small byte helpers shared by the block-storage backends and the image formats above them
// (`package`: visible to this package's targets, not to embedders).

/// Rounds `value` up to a multiple of `alignment` (a power of two).
@inline(__always)
package func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    (value + alignment - 1) & ~(alignment - 1)
}

/// `withUnsafeMutableBytes` for a body with a typed error (the standard one only rethrows).
package func withMutableBytes<T, E: Error>(
    _ array: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(E) -> T
) throws(E) -> T {
    let result: Result<T, E> = array.withUnsafeMutableBytes { buffer in
        do throws(E) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// `withUnsafeBytes` for a body with a typed error.
package func withBytes<T, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
    let result: Result<T, E> = array.withUnsafeBytes { buffer in
        do throws(E) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}
