// The dispatcher's API is written in the scheduling vocabulary (policies, parameters, vCPU ids,
// reports), so importing VCPUScheduler brings Scheduling with it, as NIO brings NIOCore.
@_exported import Scheduling
