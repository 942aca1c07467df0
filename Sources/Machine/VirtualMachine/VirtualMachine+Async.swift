import HostSupport

extension VirtualMachine {
    /// ``start()`` without blocking a thread of the caller's executor: the vCPUs are started on
    /// a thread of their own and the task resumes when they are.
    public func started() async throws(VirtualMachineError) {
        try await Self.offExecutor { () throws(VirtualMachineError) in try self.start() }
    }

    /// ``pause()`` without blocking a thread of the caller's executor: resumes once every vCPU is
    /// parked (under a shared dispatcher, once their running slices have ended).
    public func paused() async throws(VirtualMachineError) {
        try await Self.offExecutor { () throws(VirtualMachineError) in try self.pause() }
    }

    /// ``resume()`` without blocking a thread of the caller's executor.
    public func resumed() async throws(VirtualMachineError) {
        try await Self.offExecutor { () throws(VirtualMachineError) in try self.resume() }
    }

    /// ``stop()`` without blocking a thread of the caller's executor while the vCPUs wind down;
    /// returns the outcome (``stopped()`` only waits for a stop someone else makes).
    public func stopped(requesting: Bool) async -> VirtualMachineOutcome {
        guard requesting else { return await stopped() }
        let result = await Self.offExecutor { () throws(Never) in self.stop() }
        return result
    }

    /// Runs the blocking `body` on a host thread of its own and suspends the task until it
    /// returns (inline if no thread can be had).
    static func offExecutor<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E)
        -> T
    {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            let run: @Sendable () -> Void = {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            do {
                let thread = try HostThread.spawn(run)
                thread.detach()
            } catch {
                run()
            }
        }
        return try result.get()
    }
}
