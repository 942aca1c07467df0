import Scheduling

extension SchedulingConfiguration {
    /// The dispatcher's parameters for each of the VM's vCPUs: weight, priority, cap and
    /// real-time reservation (what a ``VMManager`` with shared scheduling gives the policy).
    ///
    /// - Throws: ``ConfigurationError`` with every ``ConfigurationProblem/scheduling(_:)``
    ///   problem, as ``VirtualMachineConfiguration/validate()`` reports them.
    public func parameters() throws(ConfigurationError) -> SchedulingParameters {
        let problems = self.problems
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        do throws(SchedulerError) {
            var cap: BandwidthCap?
            if let quota = capQuotaNanoseconds { cap = try BandwidthCap(quota: quota, period: capPeriodNanoseconds) }
            var reservation: RealTimeReservation?
            if let budget = realTimeBudgetNanoseconds {
                reservation = try RealTimeReservation(budget: budget, period: realTimePeriodNanoseconds)
            }
            return SchedulingParameters(
                weight: SchedulingWeight(weight), priority: priority, cap: cap, reservation: reservation)
        } catch {
            // The checks above are those of the initialisers; this is only a second guard.
            throw ConfigurationError(problems: [.scheduling("\(error)")])
        }
    }

    /// What is out of range, in field order.
    var problems: [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        if weight == 0 { problems.append(.scheduling("weight 0: at least 1")) }
        if !PriorityAgingPolicy.priorityRange.contains(priority) {
            problems.append(.scheduling("priority \(priority): in \(PriorityAgingPolicy.priorityRange)"))
        }
        if let quota = capQuotaNanoseconds, quota == 0 || capPeriodNanoseconds == 0 {
            problems.append(.scheduling("cap \(quota) ns per \(capPeriodNanoseconds) ns: both must be positive"))
        }
        if let budget = realTimeBudgetNanoseconds,
            budget == 0 || realTimePeriodNanoseconds == 0 || budget > realTimePeriodNanoseconds
        {
            problems.append(
                .scheduling(
                    "real-time budget \(budget) ns per \(realTimePeriodNanoseconds) ns: positive, at most the period"))
        }
        return problems
    }
}
