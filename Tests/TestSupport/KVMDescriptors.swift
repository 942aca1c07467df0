// Counting the descriptors that KVM tests own, for leak checks. Other test targets open and
// close ordinary files concurrently, so only KVM objects and eventfds are counted (and the
// leak tests hold the `.usesKVM(exclusively: true)` gate).
#if canImport(Glibc)
    import Glibc
#endif

/// The descriptors of this process that refer to KVM objects or eventfds, by their
/// `/proc/self/fd` link text.
public func kvmDescriptorLinks() -> [String] {
    guard let dir = opendir("/proc/self/fd") else { return [] }
    defer { closedir(dir) }
    var links: [String] = []
    var buffer = [CChar](repeating: 0, count: 256)
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.first?.isNumber == true else { continue }
        let count = readlink("/proc/self/fd/" + name, &buffer, buffer.count - 1)
        guard count > 0 else { continue }
        let link = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if link == "/dev/kvm" || link.hasPrefix("anon_inode:kvm") || link == "anon_inode:[eventfd]" {
            links.append(link)
        }
    }
    return links.sorted()
}

/// How many more descriptors of each kind `after` holds than `before` (kinds that grew only).
///
/// For leak tests that run many cycles: a leak of even one descriptor per cycle grows a kind by
/// at least the number of cycles, while suites that run alongside without the KVM gate (virtio
/// queue workers, EventFD tests) open and close a few eventfds of their own at any moment — so
/// the check is "grew by less than one per cycle", not exact equality, which such a suite
/// closing a descriptor in between would fail.
public func descriptorGrowth(from before: [String], to after: [String]) -> [String: Int] {
    var growth: [String: Int] = [:]
    for link in after { growth[link, default: 0] += 1 }
    for link in before { growth[link, default: 0] -= 1 }
    return growth.filter { $0.value > 0 }
}

/// What a leak test that ran `cycles` cycles finds wrong with this process's KVM and eventfd
/// descriptors against `before`, or `nil`: no KVM object may be open after that was not open
/// before (only KVM tests open them, and leak tests hold the exclusive gate; one a test that ran
/// before still held while it was torn down may be gone by the end, which is no leak); eventfds,
/// which other suites use too, must have grown by less than one per cycle (see
/// ``descriptorGrowth(from:to:)``).
public func descriptorLeak(since before: [String], cycles: Int) -> String? {
    let eventFD = "anon_inode:[eventfd]"
    let after = kvmDescriptorLinks()
    let growth = descriptorGrowth(from: before, to: after)
    let kvmGrowth = growth.filter { $0.key != eventFD }
    if !kvmGrowth.isEmpty {
        let kvmBefore = before.filter { $0 != eventFD }, kvmAfter = after.filter { $0 != eventFD }
        return "KVM descriptors opened and not closed: \(kvmGrowth) (\(kvmBefore) before, \(kvmAfter) after)"
    }
    let grown = growth[eventFD] ?? 0
    return grown < cycles ? nil : "eventfds grew by \(grown) over \(cycles) cycles"
}
