import GuestMemory
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct MmapRegionTests {
    @Test func guardPagesFaultOnOverrunInAChildProcess() throws {
        let region = try makeRegion(0x10_0000, pages: 2, .init(guardPages: 1))
        #expect(region.guardBytes == page)
        let first = region.hostBase.assumingMemoryBound(to: UInt8.self)
        let last = first + Int(region.size) - 1
        // Control: in-bounds writes at both ends do not fault.
        #expect(
            runInChild {
                first.pointee = 1; last.pointee = 2
            } == .exited(0))
        // One byte before and one byte after the region hit the PROT_NONE guards.
        #expect(runInChild { (first - 1).pointee = 1 } == .signaled(SIGSEGV))
        #expect(runInChild { (last + 1).pointee = 1 } == .signaled(SIGSEGV))
        // Reads fault too: the last byte of each guard page.
        #expect(runInChild { readByte(first - Int(page)) } == .signaled(SIGSEGV))
        #expect(runInChild { readByte(last + Int(page)) } == .signaled(SIGSEGV))
    }

    @Test func readOnlyRegionRefusesWritesAndFaultsOnHostWrites() throws {
        let region = try makeRegion(0x2000, pages: 1, .init(readOnly: true))
        let map = try GuestMemoryMap(regions: [region])
        #expect(try map.read(UInt64.self, at: GuestAddress(0x2008)) == 0)
        #expect(throws: GuestMemoryError.readOnly(GuestAddress(0x2008))) {
            try map.write(UInt64(1), at: GuestAddress(0x2008))
        }
        #expect(throws: GuestMemoryError.readOnly(GuestAddress(0x2010))) {
            try map.atomicStore(UInt32(1), at: GuestAddress(0x2010))
        }
        let p = region.hostBase.assumingMemoryBound(to: UInt8.self)
        #expect(runInChild { p.pointee = 1 } == .signaled(SIGSEGV))
    }

    @Test func sharedAnonymousMemoryIsSharedWithAForkedChild() throws {
        let region = try makeRegion(0, pages: 1, .init(backing: .anonymous(shared: true)))
        let p = region.hostBase.assumingMemoryBound(to: UInt32.self)
        #expect(runInChild { p.pointee = 0xC0FFEE } == .exited(0))
        let map = try GuestMemoryMap(regions: [region])
        #expect(try map.read(UInt32.self, at: .zero) == 0xC0FFEE)

        let privateRegion = try makeRegion(0, pages: 1)
        let q = privateRegion.hostBase.assumingMemoryBound(to: UInt32.self)
        #expect(runInChild { q.pointee = 0xC0FFEE } == .exited(0))
        #expect(q.pointee == 0)
    }

    @Test func memfdRegionIsVisibleThroughASecondMapping() throws {
        let region = try makeRegion(0x4000_0000, pages: 4, .init(backing: .memfd(name: "guest-ram")))
        let backing = try #require(region.fileBacking)
        let second = mmap(nil, Int(region.size), PROT_READ | PROT_WRITE, MAP_SHARED, backing.descriptor.rawValue, 0)
        let mapping = try #require(second == MAP_FAILED ? nil : second)
        defer { munmap(mapping, Int(region.size)) }
        #expect(mapping != region.hostBase)
        let map = try GuestMemoryMap(regions: [region])

        try map.write(UInt64(0x1122_3344_5566_7788), at: GuestAddress(0x4000_3ff8))
        #expect(mapping.load(fromByteOffset: 0x3ff8, as: UInt64.self) == 0x1122_3344_5566_7788)
        mapping.storeBytes(of: 0xAB, toByteOffset: 17, as: UInt8.self)
        #expect(try map.read(UInt8.self, at: GuestAddress(0x4000_0011)) == 0xAB)
    }

    @Test func fileBackedRegionAtAnOffset() throws {
        let file = try TemporaryFile()
        var rng = SeededGenerator(seed: 7)
        let content = randomBytes(Int(3 * page), using: &rng)
        try file.write(content)
        let shared = try makeRegion(
            0x1000, pages: 2, .init(backing: .file(file.descriptor, offset: Int64(page), shared: true)))
        let map = try GuestMemoryMap(regions: [shared])
        #expect(try map.readBytes(count: Int(2 * page), at: GuestAddress(0x1000)) == Array(content[Int(page)...]))
        try map.write(contentsOf: [1, 2, 3], at: GuestAddress(0x1000 + 5))
        #expect(try file.read(count: 3, at: Int64(page) + 5) == [1, 2, 3])

        let copyOnWrite = try makeRegion(
            0x1000, pages: 1, .init(backing: .file(file.descriptor, offset: 0, shared: false)))
        let privateMap = try GuestMemoryMap(regions: [copyOnWrite])
        try privateMap.write(contentsOf: [9, 9, 9], at: GuestAddress(0x1000))
        #expect(try file.read(count: 3, at: 0) == Array(content[0..<3]))
        #expect(
            throws: GuestMemoryError.invalidRegion("file offset 100 must be a non-negative multiple of the host page")
        ) {
            try MmapRegion(
                guestBase: .zero, size: page, options: .init(backing: .file(file.descriptor, offset: 100, shared: true))
            )
        }
        // A region the file does not cover would SIGBUS on access: refused up front.
        #expect(
            throws: GuestMemoryError.invalidRegion(
                "file of \(3 * page) bytes does not cover \(3 * page) bytes at offset \(page)")
        ) {
            try MmapRegion(
                guestBase: .zero, size: 3 * page,
                options: .init(backing: .file(file.descriptor, offset: Int64(page), shared: true)))
        }
    }

    @Test func noReserveMapsMoreThanPhysicalMemory() throws {
        // 64 GiB: larger than this kind of machine's RAM; only touched pages are committed.
        let size: UInt64 = 64 << 30
        if readSmallFile("/proc/sys/vm/overcommit_memory").hasPrefix("2") {
            // Strict accounting ignores MAP_NORESERVE: the mapping must fail cleanly instead.
            #expect(throws: GuestMemoryError.system("mmap", .noMemory)) {
                try MmapRegion(guestBase: GuestAddress(1 << 40), size: size, options: .init(noReserve: true))
            }
            return
        }
        let region = try MmapRegion(guestBase: GuestAddress(1 << 40), size: size, options: .init(noReserve: true))
        // Under the default heuristic, the same mapping *with* reservation is refused when it
        // exceeds RAM + swap — so the flag really reached mmap.
        if readSmallFile("/proc/sys/vm/overcommit_memory").hasPrefix("0"),
            let ram = meminfo("MemTotal"), let swap = meminfo("SwapTotal"), (ram + swap) * 1024 < size
        {
            #expect(throws: GuestMemoryError.system("mmap", .noMemory)) {
                try MmapRegion(guestBase: GuestAddress(1 << 40), size: size)
            }
        }
        let map = try GuestMemoryMap(regions: [region])
        try map.write(UInt32(0xDEAD_BEEF), at: GuestAddress((1 << 40) + size - 4))
        #expect(try map.read(UInt32.self, at: GuestAddress((1 << 40) + size - 4)) == 0xDEAD_BEEF)
    }

    static var freeHugePages: UInt64 {
        meminfo("HugePages_Free") ?? 0
    }

    /// The host page size, which `MmapRegion`'s messages name.
    static let hostPageSize = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))

    /// Why no transparent huge pages are available, as `MmapRegion` says it when the sysfs
    /// setting `file` reads `mode` (empty: the file is missing).
    static func transparentHugePagesUnavailable(_ file: String, mode: String) -> GuestMemoryError {
        let path = "/sys/kernel/mm/transparent_hugepage/\(file)"
        guard let open = mode.firstIndex(of: "["), let close = mode.firstIndex(of: "]"), open < close else {
            return .hugePagesUnavailable("the kernel has no transparent huge pages (\(path) missing)")
        }
        let selected = mode[mode.index(after: open)..<close]
        return .hugePagesUnavailable("transparent huge pages are disabled (\(path) is [\(selected)])")
    }

    @Test func hugetlbRegionSucceedsOrSaysWhyNot() throws {
        let options = MmapRegionOptions(hugePages: .hugetlb)
        if Self.freeHugePages == 0 {
            // The errno of the failed mmap depends on the kernel (ENOMEM as a rule); the rest of
            // the message is fixed.
            #expect {
                _ = try makeRegion(0, pages: 512, options)
            } throws: { error in
                guard case .hugePagesUnavailable(let why) = error as? GuestMemoryError else { return false }
                return why.hasPrefix("no 2 MiB huge pages could be allocated (")
                    && why.hasSuffix(
                        "); HugePages_Free in /proc/meminfo is 0 — reserve pages with `sysctl vm.nr_hugepages=N`")
            }
        } else {
            let region = try makeRegion(0, pages: 512, options)
            #expect(UInt(bitPattern: region.hostBase) % (2 << 20) == 0)
            let map = try GuestMemoryMap(regions: [region])
            try map.write(UInt64(42), at: GuestAddress(0x1F_FFF8))
            #expect(try map.read(UInt64.self, at: GuestAddress(0x1F_FFF8)) == 42)
        }
        #expect(
            throws: GuestMemoryError.invalidRegion("hugetlb regions must be a multiple of 2 MiB, got \(page) bytes")
        ) {
            try makeRegion(0, pages: 1, options)  // not a 2 MiB multiple
        }
    }

    @Test func transparentHugePagesSucceedOrSayWhyNot() throws {
        let mode = readSmallFile("/sys/kernel/mm/transparent_hugepage/enabled")
        let options = MmapRegionOptions(hugePages: .transparent, guardPages: 1)
        if mode.isEmpty || mode.contains("[never]") {
            #expect(throws: Self.transparentHugePagesUnavailable("enabled", mode: mode)) {
                _ = try makeRegion(0, pages: 1024, options)
            }
        } else {
            let region = try makeRegion(0, pages: 1024, options)
            #expect(UInt(bitPattern: region.hostBase) % (2 << 20) == 0)
            let map = try GuestMemoryMap(regions: [region])
            try map.fill(0x5A, count: Int(region.size), at: .zero)
            #expect(try map.read(UInt8.self, at: GuestAddress(region.size - 1)) == 0x5A)
        }
    }

    @Test func memfdWithTransparentHugePagesFollowsShmemSetting() throws {
        let mode = readSmallFile("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
        let options = MmapRegionOptions(backing: .memfd(name: "thp"), hugePages: .transparent)
        if mode.isEmpty || mode.contains("[never]") || mode.contains("[deny]") {
            #expect(throws: Self.transparentHugePagesUnavailable("shmem_enabled", mode: mode)) {
                _ = try makeRegion(0, pages: 512, options)
            }
        } else {
            let region = try makeRegion(0, pages: 512, options)
            #expect(UInt(bitPattern: region.hostBase) % (2 << 20) == 0)
        }
    }

    @Test func invalidRegionParametersAreTypedErrors() {
        let hostPage = Self.hostPageSize
        #expect(
            throws: GuestMemoryError.invalidRegion(
                "size 0 must be a non-zero multiple of the \(hostPage)-byte host page")
        ) { try MmapRegion(guestBase: .zero, size: 0) }
        #expect(
            throws: GuestMemoryError.invalidRegion(
                "size 100 must be a non-zero multiple of the \(hostPage)-byte host page")
        ) { try MmapRegion(guestBase: .zero, size: 100) }
        #expect(
            throws: GuestMemoryError.invalidRegion("guest base 0x800 must be aligned to the \(hostPage)-byte host page")
        ) { try MmapRegion(guestBase: GuestAddress(0x800), size: page) }
        // .max - page + 2 is not page-aligned, so this base is refused for its alignment before
        // the range is checked against 2^64.
        #expect(
            throws: GuestMemoryError.invalidRegion(
                "guest base \(GuestAddress(.max - page + 2)) must be aligned to the \(hostPage)-byte host page")
        ) { try MmapRegion(guestBase: GuestAddress(.max - page + 2), size: page) }
        // An aligned base whose region would run past 2^64 is refused for that.
        #expect(throws: GuestMemoryError.addressOverflow(GuestAddress(.max - page + 1), offset: 2 * page)) {
            try MmapRegion(guestBase: GuestAddress(.max - page + 1), size: 2 * page)
        }
        #expect(throws: GuestMemoryError.invalidRegion("guard page count -1 is out of range")) {
            try MmapRegion(guestBase: .zero, size: page, options: .init(guardPages: -1))
        }
    }

    @Test func regionUnmapsWhenTheLastReferenceGoes() throws {
        weak var weakRegion: MmapRegion?
        var map: GuestMemoryMap? = try GuestMemoryMap(regions: [try makeRegion(0, pages: 1)])
        weakRegion = map?.entries.first?.region as? MmapRegion
        #expect(weakRegion != nil)
        map = nil
        #expect(weakRegion == nil)
    }
}
