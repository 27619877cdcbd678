#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TRMDIS
import TRMDISKernelsC

/// The pool's waiting (Core/ThreadPool.swift): it spins only where every thread can have a CPU, and the split
/// of the work, hence every result's bits, depends on the thread count alone.
@Suite struct ThreadPoolTests {
    /// The affinity mask's count, as `sched_getaffinity` gives it through /proc (Cpus_allowed_list).
    static func allowedCPUs() -> Int? {
        guard let text = MemoryBudget.smallFile("/proc/self/status"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        var count = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let ends = range.split(separator: "-").compactMap { Int($0.filter(\.isNumber)) }
            count += ends.count == 2 ? ends[1] - ends[0] + 1 : 1
        }
        return count
    }

    @Test func theProcessesCPUsAreItsAffinityMaskWithinItsQuota() throws {
        let allowed = try #require(Self.allowedCPUs())
        let quota = Int(trmdis_cgroup_cpu_quota("/sys/fs/cgroup"))
        let cpus = quota > 0 ? min(allowed, quota) : allowed
        #expect(Int(trmdis_available_cpus()) == cpus)
        #expect(Threads.defaultCount() == min(cpus, BLASRuntime.concurrentProducts ?? Threads.maximum))
    }

    /// A cgroup tree of files under a temporary root: `files` maps paths below it to their first line.
    static func quota(of files: [String: String]) throws -> Int {
        let root = "/tmp/trmdis-cgroup-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { for path in files.keys { unlink(root + path) }; for dir in ["/cpu", ""] { rmdir(root + dir) } }
        mkdir(root, 0o700)
        mkdir(root + "/cpu", 0o700)
        for (path, line) in files {
            let file = try #require(fopen(root + path, "w"))
            fputs(line + "\n", file)
            fclose(file)
        }
        return Int(trmdis_cgroup_cpu_quota(root))
    }

    @Test func aCgroupQuotaCountsItsCPUsRoundedUp() throws {
        #expect(try Self.quota(of: ["/cpu.max": "250000 100000"]) == 3)  // cgroup v2
        #expect(try Self.quota(of: ["/cpu.max": "200000 100000"]) == 2)
        #expect(try Self.quota(of: ["/cpu.max": "max 100000"]) == 0)
        #expect(try Self.quota(of: ["/cpu/cpu.cfs_quota_us": "150000", "/cpu/cpu.cfs_period_us": "100000"]) == 2)  // v1
        #expect(try Self.quota(of: ["/cpu/cpu.cfs_quota_us": "-1", "/cpu/cpu.cfs_period_us": "100000"]) == 0)
        #expect(try Self.quota(of: [:]) == 0)
    }

    @Test func aPoolWithMoreThreadsThanCPUsNeverSpins() throws {
        let cpus = Int(trmdis_available_cpus())
        #expect(try ThreadPool(threads: cpus).waitSpinSeconds == ThreadPool.spinSeconds)
        #expect(try ThreadPool(threads: cpus + 1).waitSpinSeconds == 0)
    }

    @Test func anOversubscribedPoolSplitsTheWorkAsAnyOther() throws {
        let threads = Int(trmdis_available_cpus()) + 2
        let pool = try ThreadPool(threads: threads)
        var owner = [Int](repeating: -1, count: 1000)
        owner.withUnsafeMutableBufferPointer { owner in
            for _ in 0..<50 {  // many hand-offs, each waiting without a spin
                pool.runOnAll(owner.baseAddress!) { base, t in
                    let start = 1000 * t / threads, end = 1000 * (t + 1) / threads
                    for i in start..<end { base[i] = t }
                }
            }
        }
        #expect(owner == (0..<1000).map { i in (0..<threads).first { 1000 * ($0 + 1) / threads > i }! })
    }
}
