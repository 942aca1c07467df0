// The vocabulary of the Machine API's own signatures, so that `import Machine` is enough to
// configure, schedule and admit VMs: Scheduling's policies and reports (VMManagerScheduling,
// VMReport) and HostPlacement's host resources (VMManager(host:)).
@_exported import HostPlacement
@_exported import Scheduling
