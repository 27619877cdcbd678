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

    @Test func theProcessesCPUsAreItsAffinityMask() throws {
        let cpus = try #require(Self.allowedCPUs())
        #expect(Int(trmdis_available_cpus()) == cpus)
        #expect(Threads.defaultCount() == min(cpus, BLASRuntime.concurrentProducts ?? Threads.maximum))
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
