#if canImport(Glibc)
import Glibc
#endif
import CBLAS
import Synchronization
import TRMDISKernelsC

/// Which OpenBLAS kernels the engine's matrix products run on, chosen from the CPU's instruction set.
///
/// OpenBLAS built with DYNAMIC_ARCH picks its kernels from a table of CPU models when it loads. A CPU newer
/// than the OpenBLAS release (a new Xeon, Zen 5, a cloud VM that masks the model) falls back to a generic
/// core (Prescott: SSE3), which runs sgemm 4-6x slower than the AVX2 or AVX-512 kernels the CPU can run.
/// At first use the engine asks the loaded OpenBLAS which core it picked; if it is below the CPU's
/// instruction set (a generic core on a CPU with AVX2+FMA or AVX-512, or an AVX2 core on an AVX-512 CPU:
/// OpenBLAS itself never picks one there unless it misreads the CPU), and the user has not chosen one with
/// OPENBLAS_CORETYPE, it loads a second copy of OpenBLAS in a namespace of its own (dlmopen) with
/// OPENBLAS_CORETYPE set to the core that matches the instruction set, and calls that copy from then on.
/// A user's OPENBLAS_CORETYPE always wins (one below the CPU is reported, with a warning, never
/// overridden: on a Zen 5 its Haswell kernels run sgemm at half the speed of its Cooperlake ones).
/// docs/performance.md has the figures.
///
/// The engine loads OpenBLAS itself (libopenblas.so.0, with dlopen) instead of linking it, so that it starts
/// with OPENBLAS_NUM_THREADS=1 (set for the load only): the engine calls OpenBLAS from its own pool, one
/// thread per call, and OpenBLAS's own workers would sit idle with a 128 MiB work buffer each, which under
/// an address-space limit (`ulimit -v`) they fail to allocate and spin on, hanging the process at exit
/// (docs/engine.md). Where the host process uses OpenBLAS itself, the engine loads a private copy.
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
    /// True when the engine replaced a core below `isa` (see `BLASRuntime`) with the one for `isa`.
    public var corrected: Bool
    /// OPENBLAS_CORETYPE as the user set it, if they did.
    public var coreTypeFromEnvironment: String?
    /// The engine's thread count (OpenBLAS itself runs one thread per call; see `Threads`).
    public var threads: Int
    /// A warning for the user: the products run on a core below the CPU's instruction set.
    public var warning: String?

    /// The engine's BLAS, resolved at first use. Without OpenBLAS, `library` is empty and `warning` says why
    /// (every computation then fails with that message: `BLASRuntime.require`).
    public static var current: BLASInfo {
        var info = BLASRuntime.shared.info
        info.threads = Threads.count
        return info
    }
}

package final class BLASRuntime: @unchecked Sendable {
    let sgemm: trmdis_sgemm_fn
    let info: BLASInfo
    /// The OpenBLAS whose functions the engine calls (nil when none could be loaded).
    let active: Library?

    /// Resolved once, before the first product.
    package static let shared = BLASRuntime(environment: { getenv($0).map { String(cString: $0) } })

    /// Cores without AVX2: OpenBLAS's fallbacks for CPUs it does not know.
    static let genericCores: Set<String> = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Nano",
                                            "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Katmai", "Coppermine",
                                            "Northwood", "Banias", "Sandybridge"]
    /// Cores with AVX2 + FMA kernels but no AVX-512 ones.
    static let avx2Cores: Set<String> = ["Haswell", "Zen", "Excavator"]

    /// The kind of kernels a core below the CPU's instruction set runs ("generic" or "AVX2"), nil when the
    /// core matches the CPU or is one this table does not know (a newer OpenBLAS's: kept as it is).
    static func lagging(core: String, isa: String) -> String? {
        if isa == "sse" { return nil }
        if genericCores.contains(core) { return "generic" }
        if isa == "avx512" && avx2Cores.contains(core) { return "AVX2" }
        return nil
    }

    /// Why OpenBLAS could not be loaded, if it could not; `sgemm` then stops the process, so every path to a
    /// product checks `require()` first.
    let loadError: String?

    /// Throws unless OpenBLAS is loaded and has its work buffers for every pool thread: Runner (every
    /// training, prediction and evaluation) calls it first.
    package static func require() throws(TRMError) {
        if let why = shared.loadError { throw TRMError.io(why) }
        try reserveWorkBuffers()
    }

    /// How many products the loaded OpenBLAS can run at once (one per pool thread): its buffer table's size.
    /// Past it OpenBLAS prints a warning and grows the table, and past that it stops the process.
    package static var concurrentProducts: Int? { shared.active?.bufferSlots }

    /// OpenBLAS's work buffer: 128 MiB of address space (BUFFER_SIZE in its x86-64 builds) plus a page,
    /// touched only as far as a product needs.
    static let workBufferBytes = (128 << 20) + 4096
    /// The most pool threads whose buffers were made (OpenBLAS keeps them for reuse).
    private static let threadsWithBuffers = Mutex<Int>(0)
    /// OpenBLAS allocates a work buffer when a call finds none free, and retries for ever when the allocation
    /// fails: under an address-space limit (`ulimit -v`) without room for one the process would hang
    /// (docs/engine.md). The engine's pool has up to one call per thread in OpenBLAS at once, so before the
    /// pool's first product: throw `.outOfMemory` if the limit leaves no room for a buffer per thread, else
    /// make the buffers exist now (later budget checks then count them as mapped). Without OpenBLAS there is
    /// nothing to reserve (`require` reports that).
    static func reserveWorkBuffers() throws(TRMError) {
        guard let blas = shared.active else { return }
        let threads = Threads.count
        try threadsWithBuffers.withLock { (done: inout Int) throws(TRMError) in
            guard threads > done else { return }
            let needed = (threads - done) * workBufferBytes
            if let room = MemoryBudget.addressSpaceHeadroom(), needed > room {
                throw .outOfMemory("OpenBLAS's work buffers (128 MiB of address space for each of \(threads) threads) "
                    + "need \(MemoryBudget.gib(needed)) GiB, more than the \(MemoryBudget.gib(room)) GiB left under "
                    + "\(MemoryBudget.addressSpaceLimit); use fewer threads or raise the limit")
            }
            if let take = blas.takeBuffer, let give = blas.returnBuffer, let slots = blas.bufferSlots {
                // OpenBLAS keeps one table of buffers for all threads (its default build): holding `threads`
                // buffers at once makes that many exist, and every later call reuses a free one (`Threads.set`
                // keeps the pool within the table).
                let held = (0..<min(threads, slots)).map { _ in take(0) }
                for buffer in held { give(buffer) }
            }
            // A build with a table per thread (USE_TLS) gives each thread its buffer at its first product.
            Threads.pool.runOnAll { _ in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 128) { buffer in  // on the stack: no malloc
                    let a = buffer.baseAddress!, c = a + 64
                    a.initialize(repeating: 0, count: 128)
                    sgemmSerial(transA: false, transB: false, m: 8, n: 8, k: 8, alpha: 1, a, lda: 8, a, ldb: 8, beta: 0,
                                c, ldc: 8)
                }
            }
            done = threads
        }
    }

    init(environment: (String) -> String?) {
        let isa = BLASRuntime.instructionSet()
        let userCore = environment("OPENBLAS_CORETYPE").flatMap { $0.isEmpty ? nil : $0 }
        let chosen = environment("TRMDIS_OPENBLAS").flatMap { $0.isEmpty ? nil : $0 }
        // TRMDIS_BLAS_TEST_DETECTED=CORE loads OpenBLAS as if it had picked CORE by itself (OPENBLAS_CORETYPE
        // for that load only, not the user's), so that the correction can be tested on a CPU OpenBLAS knows.
        let testCore = userCore == nil ? environment("TRMDIS_BLAS_TEST_DETECTED").flatMap { $0.isEmpty ? nil : $0 } : nil
        guard let loaded = BLASRuntime.openLibrary(chosen, testCore: testCore) else {
            let remedy = chosen == nil ? "install libopenblas0 (apt) or put it on the library path" : "check TRMDIS_OPENBLAS"
            let why = "OpenBLAS could not be loaded (\(chosen ?? "libopenblas.so.0"): \(BLASRuntime.lastLoaderError())); \(remedy)"
            sgemm = { _, _, _, _, _, _, _, _, _, _, _, _, _, _ in fatalError("libtrmdis: OpenBLAS is not loaded") }
            active = nil
            loadError = why
            info = BLASInfo(library: "", version: "", core: "", detectedCore: "", isa: isa, corrected: false,
                            coreTypeFromEnvironment: userCore, threads: 1, warning: why)
            return
        }
        let detected = loaded.core
        let library = BLASRuntime.libraryPath(of: unsafeBitCast(loaded.sgemm, to: UnsafeRawPointer.self))
        var info = BLASInfo(library: library, version: loaded.version, core: detected, detectedCore: detected, isa: isa,
                            corrected: false, coreTypeFromEnvironment: userCore, threads: 1, warning: nil)
        var active = loaded
        if let kind = BLASRuntime.lagging(core: detected, isa: isa) {
            if let userCore {
                info.warning = "OpenBLAS runs its \(kind) '\(detected)' kernels on a CPU with \(isa) because OPENBLAS_CORETYPE="
                    + "\(userCore) is set; unset it for the \(BLASRuntime.bestCore(isa)) kernels ("
                    + (kind == "generic" ? "several times faster)" : "up to twice as fast)")
            } else if let copy = BLASRuntime.candidateCores(isa).lazy
                .compactMap({ BLASRuntime.loadCopy(path: info.library, core: $0, replacing: kind, isa: isa) }).first {
                active = copy
                (info.core, info.version) = (copy.core, copy.version)
                info.corrected = true
            } else {
                info.warning = "OpenBLAS runs its \(kind) '\(detected)' kernels on a CPU with \(isa), and loading its "
                    + "\(BLASRuntime.bestCore(isa)) kernels failed; set OPENBLAS_CORETYPE=\(BLASRuntime.bestCore(isa)) before starting"
            }
        }
        active.setThreads(1)
        self.sgemm = active.sgemm
        self.active = active
        self.loadError = nil
        self.info = info
    }

    /// The functions the engine calls in one loaded OpenBLAS, and what it says about itself.
    struct Library {
        let sgemm: trmdis_sgemm_fn
        let setThreads: trmdis_set_threads_fn
        let core: String
        let version: String
        /// OpenBLAS's work-buffer allocator (`blas_memory_alloc`, `blas_memory_free`): exported by its builds,
        /// not part of its documented API, so optional.
        let takeBuffer: (@convention(c) (Int32) -> UnsafeMutableRawPointer?)?
        let returnBuffer: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
        /// The size of OpenBLAS's buffer table: twice the MAX_THREADS its configuration string names.
        var bufferSlots: Int? {
            guard let field = version.split(separator: " ").first(where: { $0.hasPrefix("MAX_THREADS=") }),
                  let count = Int(field.dropFirst("MAX_THREADS=".count)), count > 0 else { return nil }
            return 2 * count
        }

        init?(_ handle: UnsafeMutableRawPointer) {
            guard let s = dlsym(handle, "cblas_sgemm"), let t = dlsym(handle, "openblas_set_num_threads"),
                  let n = dlsym(handle, "openblas_get_corename"), let c = dlsym(handle, "openblas_get_config"),
                  let corename = unsafeBitCast(n, to: trmdis_string_fn.self)(),
                  let config = unsafeBitCast(c, to: trmdis_string_fn.self)() else { return nil }
            sgemm = unsafeBitCast(s, to: trmdis_sgemm_fn.self)
            setThreads = unsafeBitCast(t, to: trmdis_set_threads_fn.self)
            (core, version) = (String(cString: corename), String(cString: config))
            let take = dlsym(handle, "blas_memory_alloc"), give = dlsym(handle, "blas_memory_free")
            if let take, let give {
                takeBuffer = unsafeBitCast(take, to: (@convention(c) (Int32) -> UnsafeMutableRawPointer?).self)
                returnBuffer = unsafeBitCast(give, to: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self)
            } else {
                (takeBuffer, returnBuffer) = (nil, nil)
            }
        }
    }

    /// OpenBLAS for the engine, loaded so that it starts no worker threads. Where the host process already
    /// loaded the same library, a private copy of that file in a namespace of its own (dlmopen), so that the
    /// engine's setting (one thread per call) never changes the host's. TRMDIS_OPENBLAS names another
    /// OpenBLAS build (a file name or a path, with the standard symbol names), e.g. a newer release that
    /// knows a CPU the system's does not.
    static func openLibrary(_ chosen: String?, testCore: String? = nil) -> Library? {
        let names = chosen.map { [$0] } ?? ["libopenblas.so.0", "libopenblas.so"]
        var settings = ["OPENBLAS_NUM_THREADS": "1"]
        if let testCore { settings["OPENBLAS_CORETYPE"] = testCore }
        let handle = withEnvironment(settings) { () -> UnsafeMutableRawPointer? in
            if let hosts = names.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_NOLOAD) }).first {
                let path = dlsym(hosts, "cblas_sgemm").map { libraryPath(of: UnsafeRawPointer($0)) } ?? names[0]
                guard let copy = trmdis_dlmopen(TRMDIS_LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL) else {
                    return hosts  // no namespace left for a copy: share the host's (as a linked library would)
                }
                dlclose(hosts)  // the reference RTLD_NOLOAD took
                return copy
            }
            return names.lazy.compactMap { dlopen($0, RTLD_NOW | RTLD_LOCAL) }.first
        }
        return handle.flatMap(Library.init)
    }

    static func lastLoaderError() -> String { dlerror().map { String(cString: $0) } ?? "no OpenBLAS symbols in it" }

    /// `body` run with `values` in the process's environment, which is then restored. OpenBLAS reads its
    /// variables once, when it loads, so they need to be there only for the load.
    static func withEnvironment<T>(_ values: [String: String], _ body: () -> T) -> T {
        let saved = values.keys.map { ($0, getenv($0).map { String(cString: $0) }) }
        for (name, value) in values { setenv(name, value, 1) }
        defer {
            for (name, old) in saved {
                if let old { setenv(name, old, 1) } else { unsetenv(name) }
            }
        }
        return body()
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

    /// A second copy of OpenBLAS in a new link-map namespace, initialised with OPENBLAS_CORETYPE = `core` and no
    /// worker threads (both set for the load only), to replace a core of the `kind` that `lagging` names. nil,
    /// and the copy closed again, if it cannot be loaded or settles on a core no better than that: a generic
    /// one, or for an AVX2 core one that lags `isa` too (OpenBLAS replaces a core the CPU cannot run, or one
    /// it does not have, by the best one it can; a better replacement is kept and reported by its name).
    static func loadCopy(path: String, core: String, replacing kind: String, isa: String) -> Library? {
        let better: (String) -> Bool = { kind == "generic" ? !genericCores.contains($0) : lagging(core: $0, isa: isa) == nil }
        guard better(core) else { return nil }
        let handle = withEnvironment(["OPENBLAS_CORETYPE": core, "OPENBLAS_NUM_THREADS": "1"]) {
            trmdis_dlmopen(TRMDIS_LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL)
        }
        guard let handle else { return nil }
        guard let copy = Library(handle), better(copy.core) else {
            dlclose(handle)
            return nil
        }
        return copy
    }
}
