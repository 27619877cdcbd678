#if canImport(Glibc)
import Glibc
#endif

/// How much more memory this process may use, from the limits that actually stop it: the address-space
/// limit (RLIMIT_AS, `ulimit -v`) less what is mapped, the cgroup's limit (v2 memory.max, v1
/// memory.limit_in_bytes) less its usage, and the system's MemAvailable. A large allocation larger than
/// the smallest of these is refused as out of memory instead of being attempted: under a cgroup limit the
/// kernel would grant it and then kill the process when its pages are touched.
package enum MemoryBudget {
    /// Allocations below this are not checked (reading the limits costs a few system calls).
    static let checkedFrom = 1 << 20

    /// The headroom in bytes, and the limit it comes from; nil when no limit could be read.
    package static func headroom() -> (bytes: Int, limit: String)? {
        var best: (Int, String)?
        func consider(_ bytes: Int?, _ limit: String) {
            guard let bytes else { return }
            if best == nil || bytes < best!.0 { best = (max(0, bytes), limit) }
        }
        consider(addressSpaceHeadroom(), addressSpaceLimit)
        if let (limit, usage) = cgroupLimit() { consider(limit - usage, "the cgroup memory limit") }
        consider(memAvailable(), "the system's available memory")
        return best
    }

    static let addressSpaceLimit = "the address-space limit (ulimit -v)"

    /// RLIMIT_AS less what is mapped; nil without a limit. Address space, not memory: what a mapping
    /// reserves counts whether or not it is ever touched.
    package static func addressSpaceHeadroom() -> Int? {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur != rlim_t.max, let mapped = mappedBytes() else {
            return nil
        }
        return max(0, Int(clamping: rl.rlim_cur) - mapped)
    }

    /// Throws `.outOfMemory` when `bytes` exceed the headroom; `what` says what needed them.
    package static func check(bytes: Int, _ what: @autoclosure () -> String) throws(TRMError) {
        guard bytes >= checkedFrom, let (room, limit) = headroom(), bytes > room else { return }
        throw .outOfMemory("\(what()) needs \(gib(bytes)) GiB, more than the \(gib(room)) GiB left under \(limit)")
    }

    /// Bytes in GiB with two decimals ("0.01" at least for anything non-zero).
    static func gib(_ bytes: Int) -> String {
        let hundredths = max(bytes > 0 ? 1 : 0, Int((Double(bytes) / Double(1 << 30) * 100).rounded()))
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// The process's mapped address space (/proc/self/statm, first field, in pages).
    static func mappedBytes() -> Int? {
        guard let text = smallFile("/proc/self/statm"), let pages = Int(text.split(separator: " ").first ?? "") else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// MemAvailable of /proc/meminfo in bytes.
    static func memAvailable() -> Int? {
        guard let text = smallFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// (limit, usage) of this process's memory cgroup, v2 or v1; nil without a finite limit.
    static func cgroupLimit() -> (Int, Int)? {
        guard let text = smallFile("/proc/self/cgroup") else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                for base in ["/sys/fs/cgroup" + path, "/sys/fs/cgroup"] {
                    if let limit = number(base + "/memory.max"), let usage = number(base + "/memory.current") { return (limit, usage) }
                }
            } else if parts[1].split(separator: ",").contains("memory") {
                for base in ["/sys/fs/cgroup/memory" + path, "/sys/fs/cgroup/memory"] {
                    // v1 reports "no limit" as a huge number near Int64.max.
                    if let limit = number(base + "/memory.limit_in_bytes"), limit < 1 << 60,
                       let usage = number(base + "/memory.usage_in_bytes") { return (limit, usage) }
                }
            }
        }
        return nil
    }

    /// A file holding one integer ("max" and unreadable files are nil).
    static func number(_ path: String) -> Int? {
        smallFile(path).flatMap { Int($0.split(separator: "\n").first ?? "") }
    }

    /// A small pseudo-file's text (at most 64 KiB).
    static func smallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while total < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n <= 0 { break }
            total += n
        }
        return String(decoding: buffer[0..<total], as: UTF8.self)
    }
}
