// A real Linux kernel for the tests: Debian's cloud kernel, fetched by `.ci/fetch-test-kernel.sh`
// (which `.ci/run` calls) into `.build/test-kernels`, or the directory `SWIFT_VMM_TEST_KERNELS` names.
import Foundation

/// Where the test kernel is, or why it is not there.
public enum TestKernels {
    /// The directory the kernels are looked for in.
    public static var directory: String {
        if let named = ProcessInfo.processInfo.environment["SWIFT_VMM_TEST_KERNELS"] { return named }
        // Tests/TestSupport/TestKernels.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/test-kernels").path
    }

    /// The bzImage, if fetched.
    public static var bzImage: String? { existing("bzImage") }
    /// The ELF vmlinux unpacked from it, if fetched.
    public static var vmlinux: String? { existing("vmlinux") }
    /// Whether both are there.
    public static var available: Bool { bzImage != nil && vmlinux != nil }
    /// The reason a test that needs them is skipped.
    public static var missing: String {
        "no test kernel in \(directory): run .ci/fetch-test-kernel.sh (needs apt-get and lz4)"
    }

    private static func existing(_ name: String) -> String? {
        let path = directory + "/" + name
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
