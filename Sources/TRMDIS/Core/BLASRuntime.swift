#if canImport(Glibc)
import Glibc
#endif
import CBLAS
import TRMDISKernelsC

/// Which OpenBLAS kernels the engine's matrix products run on, chosen from the CPU's instruction set.
///
/// OpenBLAS built with DYNAMIC_ARCH picks its kernels from a table of CPU models when it loads. A CPU newer
/// than the OpenBLAS release (a new Xeon, Zen 5, a cloud VM that masks the model) falls back to a generic
/// core (Prescott: SSE3), which runs sgemm 4-6x slower than the AVX2 or AVX-512 kernels the CPU can run.
/// At first use the engine asks the loaded OpenBLAS which core it picked; if it is a generic one on a CPU
/// with AVX2+FMA or AVX-512, and the user has not chosen one with OPENBLAS_CORETYPE, it loads a second copy
/// of OpenBLAS in a namespace of its own (dlmopen) with OPENBLAS_CORETYPE set to the core that matches
/// the instruction set, and calls that copy from then on. A user's OPENBLAS_CORETYPE always wins (a
/// generic one is reported, with a warning, never overridden). docs/performance.md has the figures.
public struct BLASInfo: Sendable, Equatable {
    /// The OpenBLAS library file in use.
    public var library: String
    /// OpenBLAS's configuration string (version and build options).
    public var version: String
    /// The kernel core the products run on.
    public var core: String
    /// The core OpenBLAS chose by itself when it loaded.
    public var detectedCore: String
    /// The CPU's best vector instruction set: "avx512", "avx2" (with FMA) or "sse".
    public var isa: String
    /// True when the engine replaced a generic core with the one for `isa`.
    public var corrected: Bool
    /// OPENBLAS_CORETYPE as the user set it, if they did.
    public var coreTypeFromEnvironment: String?
    /// The engine's thread count (OpenBLAS itself runs one thread per call; see `Threads`).
    public var threads: Int
    /// A warning for the user: the products run on a generic core although the CPU can do better.
    public var warning: String?

    /// The engine's BLAS, resolved at first use.
    public static var current: BLASInfo {
        var info = BLASRuntime.shared.info
        info.threads = Threads.count
        return info
    }
}

package final class BLASRuntime: @unchecked Sendable {
    let sgemm: trmdis_sgemm_fn
    let setThreads: trmdis_set_threads_fn
    let info: BLASInfo

    /// Resolved once, before the first product.
    package static let shared = BLASRuntime(environment: { getenv($0).map { String(cString: $0) } })

    /// Cores without AVX2: OpenBLAS's fallbacks for CPUs it does not know.
    static let genericCores: Set<String> = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Nano",
                                            "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Katmai", "Coppermine",
                                            "Northwood", "Banias", "Sandybridge"]

    init(environment: (String) -> String?) {
        let linkedSgemm: trmdis_sgemm_fn = cblas_sgemm
        let linkedThreads: trmdis_set_threads_fn = openblas_set_num_threads
        let detected = String(cString: openblas_get_corename())
        let version = String(cString: openblas_get_config())
        let isa = BLASRuntime.instructionSet()
        let userCore = environment("OPENBLAS_CORETYPE").flatMap { $0.isEmpty ? nil : $0 }
        var info = BLASInfo(library: BLASRuntime.libraryPath(of: unsafeBitCast(linkedSgemm, to: UnsafeRawPointer.self)),
                            version: version, core: detected, detectedCore: detected, isa: isa, corrected: false,
                            coreTypeFromEnvironment: userCore, threads: 1, warning: nil)
        var sgemm = linkedSgemm, setThreads = linkedThreads
        // TRMDIS_BLAS_TREAT_AS_GENERIC=1 makes the engine correct a core it would keep, so that the
        // correction itself can be tested on any CPU that OpenBLAS recognises.
        let generic = BLASRuntime.genericCores.contains(detected) || environment("TRMDIS_BLAS_TREAT_AS_GENERIC") == "1"
        if generic && isa != "sse" {
            if let userCore {
                info.warning = "OpenBLAS runs its generic '\(detected)' kernels on a CPU with \(isa) because OPENBLAS_CORETYPE="
                    + "\(userCore) is set; unset it for the \(BLASRuntime.bestCore(isa)) kernels (several times faster)"
            } else if let copy = BLASRuntime.candidateCores(isa).lazy
                .compactMap({ BLASRuntime.loadCopy(path: info.library, core: $0) }).first {
                (sgemm, setThreads) = (copy.sgemm, copy.setThreads)
                (info.core, info.version) = (copy.core, copy.version)
                info.corrected = true
            } else {
                info.warning = "OpenBLAS runs its generic '\(detected)' kernels on a CPU with \(isa), and loading its "
                    + "\(BLASRuntime.bestCore(isa)) kernels failed; set OPENBLAS_CORETYPE=\(BLASRuntime.bestCore(isa)) before starting"
            }
        }
        setThreads(1)
        self.sgemm = sgemm
        self.setThreads = setThreads
        self.info = info
    }

    /// The cores for an instruction set, best first: Cooperlake needs AVX-512 BF16, SkylakeX AVX-512,
    /// Haswell AVX2 + FMA. An OpenBLAS older than a core lacks it, so the next one is tried.
    static func candidateCores(_ isa: String) -> [String] {
        switch isa {
        case "avx512":
            let bf16 = cpuFeatures & TRMDIS_CPU_AVX512_BF16 != 0
            return (bf16 ? ["Cooperlake"] : []) + ["SkylakeX", "Haswell"]
        case "avx2": return ["Haswell"]
        default: return []
        }
    }

    /// The core the engine asks for first on this CPU (named in warnings).
    static func bestCore(_ isa: String) -> String { candidateCores(isa).first ?? "Prescott" }

    /// The CPU's best vector instruction set: "avx512", "avx2" (with FMA) or "sse".
    static func instructionSet() -> String {
        if cpuFeatures & TRMDIS_CPU_AVX512 != 0 { return "avx512" }
        if cpuFeatures & TRMDIS_CPU_AVX2_FMA != 0 { return "avx2" }
        return "sse"
    }

    /// CPUID's instruction sets that the operating system has enabled (Sources/TRMDISKernelsC/cpu_features.c):
    /// what OpenBLAS itself tests, read once. /proc/cpuinfo is not used: under an emulator it describes
    /// the host, not the CPU the program runs on.
    static let cpuFeatures: UInt32 = trmdis_cpu_features()

    /// The file a symbol was loaded from.
    static func libraryPath(of symbol: UnsafeRawPointer) -> String {
        var info = trmdis_dl_info()
        guard trmdis_dladdr(symbol, &info) != 0, let name = info.dli_fname else { return "libopenblas.so.0" }
        return String(cString: name)
    }

    /// A second copy of OpenBLAS in a new link-map namespace, initialised with OPENBLAS_CORETYPE = `core`
    /// (set for the load only; the process's environment is restored). nil, and the copy closed again, if
    /// it cannot be loaded or settles on a generic core (OpenBLAS replaces a core the CPU cannot run by
    /// the best one it can; a non-generic replacement is kept and reported by its name).
    static func loadCopy(path: String, core: String)
        -> (sgemm: trmdis_sgemm_fn, setThreads: trmdis_set_threads_fn, core: String, version: String)? {
        setenv("OPENBLAS_CORETYPE", core, 1)
        let handle = trmdis_dlmopen(TRMDIS_LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL)
        unsetenv("OPENBLAS_CORETYPE")
        guard let handle else { return nil }
        guard let s = dlsym(handle, "cblas_sgemm"), let t = dlsym(handle, "openblas_set_num_threads"),
              let n = dlsym(handle, "openblas_get_corename"), let c = dlsym(handle, "openblas_get_config"),
              let corename = unsafeBitCast(n, to: trmdis_string_fn.self)(),
              let config = unsafeBitCast(c, to: trmdis_string_fn.self)(),
              case let name = String(cString: corename), !genericCores.contains(name) else {
            dlclose(handle)
            return nil
        }
        return (unsafeBitCast(s, to: trmdis_sgemm_fn.self), unsafeBitCast(t, to: trmdis_set_threads_fn.self), name,
                String(cString: config))
    }
}
