#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TRMDIS
import TRMDISKernelsC

/// The engine reads the CPU's instruction sets from CPUID and XGETBV (Sources/TRMDISKernelsC/cpu_features.c),
/// the test OpenBLAS applies. On a machine that is not emulated the kernel's /proc/cpuinfo flags say the
/// same; scripts/check-emulated-cpus.sh covers emulated CPUs, where the two differ.
@Suite struct CPUFeatureTests {
    /// The flags line of the first CPU in /proc/cpuinfo.
    static func kernelFlags() -> Set<String>? {
        guard let text = MemoryBudget.smallFile("/proc/cpuinfo"),  // the first CPU's entry is enough
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    @Test func cpuidAgreesWithTheKernelsFlags() throws {
        #if arch(x86_64)
        let flags = try #require(Self.kernelFlags(), "an x86-64 Linux has /proc/cpuinfo")
        let features = trmdis_cpu_features()
        let avx2 = flags.contains("avx2") && flags.contains("fma")
        let avx512 = avx2 && ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy(flags.contains)
        #expect((features & TRMDIS_CPU_AVX2_FMA != 0) == avx2)
        #expect((features & TRMDIS_CPU_AVX512 != 0) == avx512)
        #expect((features & TRMDIS_CPU_AVX512_BF16 != 0) == (avx512 && flags.contains("avx512_bf16")))
        #expect(BLASRuntime.instructionSet() == (avx512 ? "avx512" : avx2 ? "avx2" : "sse"))
        let first = BLASRuntime.candidateCores(BLASRuntime.instructionSet()).first
        let expected = avx512 ? (flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX") : avx2 ? "Haswell" : nil
        #expect(first == expected)
        #else
        #expect(trmdis_cpu_features() == 0)
        #expect(BLASRuntime.instructionSet() == "sse")
        #endif
    }

    /// Which detected cores the engine replaces (or, when the user forced them, warns about).
    @Test func aCoreBelowTheInstructionSetIsLagging() {
        #expect(BLASRuntime.lagging(core: "Prescott", isa: "avx2") == "generic")
        #expect(BLASRuntime.lagging(core: "Sandybridge", isa: "avx512") == "generic")
        #expect(BLASRuntime.lagging(core: "Haswell", isa: "avx512") == "AVX2")
        #expect(BLASRuntime.lagging(core: "Zen", isa: "avx512") == "AVX2")
        #expect(BLASRuntime.lagging(core: "Haswell", isa: "avx2") == nil)
        #expect(BLASRuntime.lagging(core: "Cooperlake", isa: "avx512") == nil)
        #expect(BLASRuntime.lagging(core: "SapphireRapids", isa: "avx512") == nil)  // newer than the table: kept
        #expect(BLASRuntime.lagging(core: "Prescott", isa: "sse") == nil)  // nothing better to load
    }
}
