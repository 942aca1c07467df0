/// A tenant sharing one host under Dominant Resource Fairness.
public struct FairShareTenant: Hashable, Sendable, Codable {
    /// The tenant's name, for reports.
    public var name: String
    /// What one task (one VM, one unit of work) of the tenant needs.
    public var demandPerTask: ResourceVector
    /// The tenant's weight: a tenant with weight 2 gets twice the dominant share of one
    /// with weight 1 (weighted DRF).
    public var weight: Double
    /// The most tasks the tenant wants (`nil`: as many as fit).
    public var maxTasks: Int?

    /// A tenant named `name` whose tasks each need `demandPerTask`, with a weight (default 1) and an
    /// optional cap on its tasks. The weight is checked by ``DominantResourceFairness``, not here.
    public init(name: String, demandPerTask: ResourceVector, weight: Double = 1, maxTasks: Int? = nil) {
        self.name = name
        self.demandPerTask = demandPerTask
        self.weight = weight
        self.maxTasks = maxTasks
    }
}

/// What DRF gave one tenant.
public struct FairShareAllocation: Hashable, Sendable, Codable {
    /// The tenant's name.
    public var name: String
    /// Tasks granted.
    public var tasks: Int
    /// Resources granted (`tasks × demandPerTask`).
    public var allocated: ResourceVector
    /// The tenant's dominant share: the largest fraction of any resource it holds.
    public var dominantShare: Double
}

/// Why DRF could not run.
public enum FairnessError: Error, Hashable, Sendable {
    /// A weight that is not a finite number greater than zero.
    case invalidWeight(tenant: String, weight: Double)
    /// A tenant whose task needs nothing (it would get unboundedly many tasks).
    case zeroDemand(tenant: String)
    /// More tasks than `taskLimit` would be granted; raise the limit or cap tenants.
    case taskLimitExceeded(Int)
}

/// Dominant Resource Fairness (Ghodsi et al., NSDI 2011) for dividing one host among
/// tenants: progressive filling that always grants the next task to the tenant with the
/// lowest weighted dominant share (`dominant share / weight`) whose task still fits,
/// ties to the earliest tenant. A tenant whose next task no longer fits is done. Each
/// grant costs O(log tenants + dimensions).
public enum DominantResourceFairness {
    /// Divides `capacity` (for example a host's ``HostResources/available``) among `tenants`.
    public static func allocate(
        capacity: ResourceVector, tenants: [FairShareTenant], taskLimit: Int = 1_000_000
    ) throws(FairnessError) -> [FairShareAllocation] {
        for t in tenants {
            guard t.weight.isFinite && t.weight > 0 else { throw .invalidWeight(tenant: t.name, weight: t.weight) }
            guard !t.demandPerTask.isZero else { throw .zeroDemand(tenant: t.name) }
        }
        var free = capacity
        var tasks = [Int](repeating: 0, count: tenants.count)
        var used = [ResourceVector](repeating: ResourceVector(), count: tenants.count)
        func dominantShare(_ i: Int) -> Double {
            var share = 0.0
            for (kind, amount) in used[i].amounts {
                let cap = capacity[kind]
                share = Swift.max(share, cap == 0 ? .infinity : Double(amount) / Double(cap))
            }
            return share
        }
        var queue = MinHeap<TenantKey>()
        for i in tenants.indices { queue.push(TenantKey(share: 0, index: i)) }
        var granted = 0
        while let top = queue.popMin() {
            let i = top.index
            let t = tenants[i]
            if let cap = t.maxTasks, tasks[i] >= cap { continue }
            guard t.demandPerTask.amounts.allSatisfy({ free[$0.key] >= $0.value }) else { continue }
            guard granted < taskLimit else { throw .taskLimitExceeded(taskLimit) }
            for (kind, amount) in t.demandPerTask.amounts {
                free[kind] -= amount
                used[i][kind] += amount
            }
            tasks[i] += 1
            granted += 1
            queue.push(TenantKey(share: dominantShare(i) / t.weight, index: i))
        }
        return tenants.indices.map {
            FairShareAllocation(
                name: tenants[$0].name, tasks: tasks[$0], allocated: used[$0],
                dominantShare: dominantShare($0))
        }
    }

    /// Divides what `host` has available among `tenants`.
    public static func allocate(
        host: HostResources, tenants: [FairShareTenant], taskLimit: Int = 1_000_000
    ) throws(FairnessError) -> [FairShareAllocation] {
        try allocate(capacity: host.available, tenants: tenants, taskLimit: taskLimit)
    }

    private struct TenantKey: Comparable, Sendable {
        var share: Double
        var index: Int
        static func < (a: TenantKey, b: TenantKey) -> Bool {
            a.share != b.share ? a.share < b.share : a.index < b.index
        }
    }
}
