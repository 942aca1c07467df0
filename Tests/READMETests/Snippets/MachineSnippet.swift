import Machine

// README snippet: Machine
func readmeSnippetMachine() throws {
    var configuration = VirtualMachineConfiguration(
        name: "demo", vcpuCount: 2, memorySize: 256 << 20,
        boot: .linux(LinuxBoot(kernel: "vmlinuz", initrd: "initrd.img")))
    configuration.disks = [DiskConfiguration(path: "root.vhd")]
    configuration.console = .file(path: "console.log")

    let vm = try VirtualMachine(configuration: configuration)
    try vm.start()
    print(vm.waitUntilStopped())  // "the guest powered off (ACPI S5)", …
}
