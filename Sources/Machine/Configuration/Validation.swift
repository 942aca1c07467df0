import DeviceModel
import Foundation
import HostSupport
import LinuxLoader
import ResourceAllocator
import Scheduling
import VCPU
import VHD

#if canImport(Glibc)
    import Glibc
#endif

extension VirtualMachineConfiguration {
    /// The guest memory below this address holds the boot structures (GDT, IDT, page tables,
    /// zero page): a flat binary must load at or above it.
    public static let firstLoadAddress: UInt64 = 0x1_0000

    /// Checks the whole configuration without creating anything: every field's range, every file
    /// it names (readable, of the right kind — the kernel is parsed, the disk formats known),
    /// where a flat binary lands, the console's path, scheduling and CPUID names.
    ///
    /// - Throws: ``ConfigurationError`` listing every problem found, in field order.
    public func validate() throws(ConfigurationError) {
        _ = try validatedKernel()
    }

    /// Every problem of the configuration (empty when it is valid).
    public func problems() -> [ConfigurationProblem] { check().problems }

    /// ``validate()``, returning the Linux kernel it parsed (`nil` for a flat binary), so that a
    /// build loads the image validation read instead of reading and parsing it again.
    func validatedKernel() throws(ConfigurationError) -> KernelImage? {
        let (problems, kernel) = check()
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
        return kernel
    }

    /// ``validatedKernel()`` with its error wrapped by `wrap` (the caller's own error type).
    func validatedKernel<E: Error>(or wrap: (ConfigurationError) -> E) throws(E) -> KernelImage? {
        do {
            return try validatedKernel()
        } catch {
            throw wrap(error)
        }
    }

    /// Every problem, and the kernel parsed on the way (when it could be).
    func check() -> (problems: [ConfigurationProblem], kernel: KernelImage?) {
        var problems: [ConfigurationProblem] = []
        if name.isEmpty || name.count > 64
            || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            problems.append(.name(name))
        }
        if !(1...Self.maximumVCPUs).contains(vcpuCount) { problems.append(.vcpuCount(vcpuCount)) }
        problems += memoryProblems()
        let (boot, kernel) = bootProblems()
        problems += boot
        problems += diskProblems()
        problems += consoleProblems()
        problems += virtioDeviceProblems()
        problems += scheduling.problems
        if !hiddenCPUIDFeatures.isEmpty {
            do {
                _ = try CPUIDTemplate(hidingNames: hiddenCPUIDFeatures.joined(separator: ","))
            } catch {
                problems.append(.cpuidFeatures(error))
            }
        }
        return (problems, kernel)
    }

    func memoryProblems() -> [ConfigurationProblem] {
        if memorySize < Self.minimumMemorySize || memorySize > Self.maximumMemorySize {
            return [.memorySize(memorySize, "from \(Self.minimumMemorySize) to \(Self.maximumMemorySize) bytes")]
        }
        if memoryBacking == .hugePages, memorySize % (2 << 20) != 0 {
            return [.memorySize(memorySize, "huge pages need a multiple of 2 MiB")]
        }
        if memorySize % 4096 != 0 { return [.memorySize(memorySize, "not a whole number of 4 KiB pages")] }
        return []
    }

    func bootProblems() -> (problems: [ConfigurationProblem], kernel: KernelImage?) {
        switch boot {
        case .flatBinary(let image):
            guard let size = Self.regularFileSize(image.path) else {
                return ([Self.fileProblem(image.path, what: "boot image")], nil)
            }
            var problems: [ConfigurationProblem] = []
            let end = image.loadAddress.addingReportingOverflow(size)
            let ram = (try? X86_64Layout(memorySize: memorySize))?.ram.map(\.range) ?? []
            if size == 0 {
                problems.append(.flatBinary("\(image.path) is empty"))
            } else if image.loadAddress < Self.firstLoadAddress || end.overflow
                || !ram.contains(where: { $0.start <= image.loadAddress && end.partialValue <= $0.start + $0.size })
            {
                problems.append(
                    .flatBinary(
                        "\(size) bytes at 0x\(String(image.loadAddress, radix: 16)) are not inside guest RAM above 0x\(String(Self.firstLoadAddress, radix: 16))"
                    ))
            } else if image.entry < image.loadAddress || image.entry >= end.partialValue {
                problems.append(.flatBinary("entry 0x\(String(image.entry, radix: 16)) is outside the loaded image"))
            } else if image.mode == .real && image.entry >= 1 << 20 || image.mode != .long && image.entry >= 1 << 32 {
                problems.append(
                    .flatBinary("entry 0x\(String(image.entry, radix: 16)) is out of reach in \(image.mode) mode"))
            }
            if let base = image.stackBase {
                let total = image.stackSize.multipliedReportingOverflow(by: UInt64(max(vcpuCount, 1)))
                let top = total.overflow ? nil : base.addingReportingOverflow(total.partialValue)
                if image.stackSize == 0 || top == nil || top!.overflow || base < Self.firstLoadAddress
                    || !ram.contains(where: { $0.start <= base && top!.partialValue <= $0.start + $0.size })
                    || (base < end.partialValue && image.loadAddress < top!.partialValue)
                {
                    problems.append(
                        .flatBinary(
                            "stacks of \(image.stackSize) bytes × \(vcpuCount) at 0x\(String(base, radix: 16)) are not inside guest RAM above 0x\(String(Self.firstLoadAddress, radix: 16)), clear of the image"
                        ))
                }
            }
            return (problems, nil)
        case .linux(let linux):
            var problems: [ConfigurationProblem] = []
            var parsed: KernelImage?
            do {
                let kernel = try KernelImage(contentsOf: linux.kernel)
                parsed = kernel
                if linux.entry == .pvh, case .elf(let elf) = kernel, elf.pvhEntry == nil {
                    problems.append(
                        .unreadableFile(
                            what: "kernel", path: linux.kernel, reason: "no PVH entry (XEN_ELFNOTE_PHYS32_ENTRY)"))
                } else if linux.entry == .pvh, case .bzImage = kernel {
                    problems.append(
                        .unreadableFile(what: "kernel", path: linux.kernel, reason: "a bzImage has no PVH entry"))
                }
            } catch {
                problems.append(.unreadableFile(what: "kernel", path: linux.kernel, reason: "\(error)"))
            }
            if let initrd = linux.initrd, Self.regularFileSize(initrd) == nil {
                problems.append(Self.fileProblem(initrd, what: "initrd"))
            }
            let bytes = Array(linux.commandLine.utf8)
            if bytes.contains(0) {
                problems.append(.commandLine("it holds a NUL byte"))
            } else if bytes.count > LinuxBoot.maximumCommandLineLength {
                problems.append(.commandLine("\(bytes.count) bytes, at most \(LinuxBoot.maximumCommandLineLength)"))
            }
            return (problems, parsed)
        }
    }

    func diskProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        if disks.count > Self.maximumDisks { problems.append(.tooManyDisks(disks.count)) }
        let known = VHDDiskImageFormat.standardFormats.map(\.name)
        var seen = Set<String>()
        for (index, disk) in disks.enumerated() {
            if let format = disk.format, !known.contains(format) {
                problems.append(.unknownDiskFormat(path: disk.path, format: format))
            }
            guard Self.regularFileSize(disk.path) != nil else {
                problems.append(Self.fileProblem(disk.path, what: "disk \(index)"))
                continue
            }
            if !disk.readOnly, access(disk.path, W_OK) != 0 {
                problems.append(
                    .unreadableFile(
                        what: "disk \(index)", path: disk.path, reason: "not writable (give readOnly: true to share it)"
                    ))
            }
            let identity = URL(fileURLWithPath: disk.path).resolvingSymlinksInPath().path
            if !seen.insert(identity).inserted { problems.append(.duplicateDisk(path: disk.path)) }
        }
        return problems
    }

    func virtioDeviceProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        switch virtioConsole {
        case .unixSocket(let path)?:
            problems.append(
                .virtioConsole("a Unix socket (\(path)) is not supported yet: use a file or standard output"))
        case .file(let path)?:
            if let reason = Self.pathProblem(path) { problems.append(.virtioConsole("\(path): \(reason)")) }
        case .standardOutput?, ConsoleConfiguration.none?, nil: break
        }
        if let entropy, entropy.maxBytesPerRequest < 1 {
            problems.append(.entropy("maxBytesPerRequest \(entropy.maxBytesPerRequest): at least 1"))
        }
        if let vsock {
            if vsock.guestCID < 3 || vsock.guestCID >= 0xffff_ffff {
                problems.append(.vsock("guestCID \(vsock.guestCID): from 3 to 4294967294 (0-2 are reserved)"))
            }
            // The guest's connections go to `<path>_<port>`, up to 11 bytes longer.
            let longest = UnixSocket.maximumPathLength - "_4294967295".utf8.count
            if vsock.hostSocketPath.isEmpty || vsock.hostSocketPath.utf8.count > longest {
                problems.append(
                    .vsock("hostSocketPath \"\(vsock.hostSocketPath)\": 1 to \(longest) bytes (a Unix socket path)"))
            } else if let reason = Self.pathProblem(vsock.hostSocketPath) {
                problems.append(.vsock("hostSocketPath \(vsock.hostSocketPath): \(reason)"))
            }
        }
        if networks.count > Self.maximumNetworks {
            problems.append(.network("\(networks.count) cards, at most \(Self.maximumNetworks)"))
        }
        var names = Set<String>()
        for (index, network) in networks.enumerated() {
            let name = network.tapName
            if name.isEmpty || name.utf8.count > 15 || name.contains("/") || name.contains(where: \.isWhitespace) {
                problems.append(.network("card \(index): TAP name \"\(name)\": 1 to 15 bytes, no \"/\" or space"))
            } else if !names.insert(name).inserted {
                problems.append(.network("card \(index): TAP \(name) is given twice"))
            }
            problems += Self.rateLimitProblems(network.receiveLimits, "network \(index) receive")
            problems += Self.rateLimitProblems(network.transmitLimits, "network \(index) transmit")
        }
        for disk in disks { problems += Self.rateLimitProblems(disk.rateLimits, "disk \(disk.path)") }
        return problems
    }

    /// The problems of `limits` (a bucket of size or refill time 0), named for `owner`.
    static func rateLimitProblems(_ limits: RateLimits?, _ owner: String) -> [ConfigurationProblem] {
        guard let limits else { return [] }
        return [("bandwidth", limits.bandwidth), ("operations", limits.operations)].compactMap { name, bucket in
            guard let bucket, bucket.size == 0 || bucket.refillTimeNanoseconds == 0 else { return nil }
            return .rateLimits("\(owner) \(name): size and refill time must be more than 0")
        }
    }

    /// Why a file cannot be created at `path` (its directory does not exist), or `nil`.
    static func pathProblem(_ path: String) -> String? {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "its directory \(directory) does not exist"
        }
        return nil
    }

    func consoleProblems() -> [ConfigurationProblem] {
        let path: String
        switch console {
        case .standardOutput, .none: return []
        case .file(let file): path = file
        case .unixSocket(let socket):
            path = socket
            if socket.utf8.count >= 108 {
                return [.consolePath(socket, reason: "longer than a Unix socket path may be (107 bytes)")]
            }
            var info = stat()
            if lstat(socket, &info) == 0, info.st_mode & S_IFMT != S_IFSOCK {
                return [.consolePath(socket, reason: "a file that is not a socket is there (it is never replaced)")]
            }
        }
        return Self.pathProblem(path).map { [.consolePath(path, reason: $0)] } ?? []
    }

    /// The size of the regular file at `path`, or `nil` when it is missing, unreadable or not a
    /// regular file.
    static func regularFileSize(_ path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(path, R_OK) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    /// Why the file at `path` cannot be used (after ``regularFileSize(_:)`` said so).
    static func fileProblem(_ path: String, what: String) -> ConfigurationProblem {
        var info = stat()
        if stat(path, &info) != 0 {
            return .unreadableFile(what: what, path: path, reason: String(cString: strerror(errno)))
        }
        if info.st_mode & S_IFMT != S_IFREG {
            return .unreadableFile(what: what, path: path, reason: "not a regular file")
        }
        return .unreadableFile(what: what, path: path, reason: "not readable")
    }
}
