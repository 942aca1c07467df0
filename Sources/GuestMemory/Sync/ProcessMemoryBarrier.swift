import CGuestMemory

/// A memory barrier on every running thread of the process: `membarrier(2)` with
/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED` (Linux 4.14+; about 0.4 µs on two CPUs).
///
/// It lets the frequent side of a store-then-load handshake (a reader announcing itself, then
/// loading a pointer) get by with a compiler barrier instead of a full fence: the rare side
/// (a writer that published a new pointer) calls ``run()``, which makes every running thread
/// execute a full fence, and a thread that is not running has passed one in its last context
/// switch. So after `run()` returns, every store another thread made before its next load is
/// visible to the caller — the pairing that `liburcu`'s memb flavour and folly's asymmetric
/// fences rely on.
enum ProcessMemoryBarrier {
    /// Whether the barrier is usable: the system call exists, is not filtered (a seccomp profile
    /// may refuse it) and this process is registered for it. Registered on first use.
    static let isAvailable: Bool = register()

    /// Executes the barrier on every running thread of the process. Only after
    /// ``isAvailable`` returned `true`.
    static func run() {
        let result = call(command: privateExpedited)
        precondition(result == 0, "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration")
    }

    // <linux/membarrier.h>
    private static let query: Int32 = 0
    private static let privateExpedited: Int32 = 1 << 3
    private static let registerPrivateExpedited: Int32 = 1 << 4

    private static func register() -> Bool {
        let supported = call(command: query)
        guard supported > 0, supported & Int(privateExpedited) != 0, supported & Int(registerPrivateExpedited) != 0
        else { return false }
        return call(command: registerPrivateExpedited) == 0
    }

    /// `membarrier(command, 0)` through the C shim: the result, or -1 (the call missing or refused).
    private static func call(command: Int32) -> Int {
        Int(cgm_membarrier(command, 0))
    }
}
