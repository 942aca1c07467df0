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
