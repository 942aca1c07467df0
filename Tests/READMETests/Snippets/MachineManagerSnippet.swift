import Machine

// README snippet: Machine
func readmeSnippetMachineManager() throws {
    let manager = try VMManager.thisHost(
        vcpuOvercommit: 4,
        scheduling: VMManagerScheduling(policy: try WeightedFairPolicy(slice: 2_000_000), slots: 2))
    var web = VirtualMachineConfiguration(
        name: "web", vcpuCount: 2, memorySize: 256 << 20,
        boot: .linux(LinuxBoot(kernel: "vmlinuz")))
    web.scheduling.weight = 2048  // twice a default VM's share
    let added = try manager.add(web)
    try added.vm.start()
    try manager.setScheduling(SchedulingConfiguration(weight: 4096), for: added.id)
    print(manager.report())  // R_i, T_i, H_i per VM; policy, slots and Jain's index
    try manager.remove(added.id)
}
