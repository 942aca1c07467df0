// The libFuzzer glue the package's fuzz targets share (vhd-fuzz, kernel-fuzz). Compiled only
// into libFuzzer builds (`-Xswiftc -DFUZZING`); empty otherwise.

#if FUZZING
    /// What each input goes to: set once by ``runLibFuzzer(_:_:_:)`` before libFuzzer starts,
    /// then only read, from libFuzzer's one thread.
    nonisolated(unsafe) private var inputHandler: (([UInt8]) -> Void)?

    /// libFuzzer's entry for one input.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        inputHandler?(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// Hands the process to libFuzzer with its command line, feeding every input to `body`.
    /// Call it from the executable's entry point (SwiftPM names it `<module>_main`).
    public func runLibFuzzer(
        _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ body: @escaping ([UInt8]) -> Void
    ) -> Int32 {
        inputHandler = body
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments, fuzzerTestOneInput)
    }
#endif
