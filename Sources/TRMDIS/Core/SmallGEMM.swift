#if canImport(Glibc)
import Glibc
#endif
import TRMDISKernelsC

/// The engine's own AVX-512 products for shapes with one small side, the `mlp_t` token mixer's sequence length
/// (97 for Sudoku), where OpenBLAS 0.3.21 runs one core at 72-90% of its peak (docs/performance.md, "The `mlp_t`
/// mixer's products"). Sources/TRMDISKernelsC/gemm_avx512.c holds the kernels; the rest runs through `sgemm`.
/// Inference on a few puzzles runs its products on weights packed once per prediction on AVX-512 or AVX2 CPUs
/// (`productPanelsSplit`; gemm_avx2.c holds the AVX2 kernel), and on AVX-512 every step does, training's too.
enum SmallGEMM {
    /// The small side these kernels take: measured on the Zen 5 (AMD EPYC, AVX-512) against OpenBLAS 0.3.21's
    /// Cooperlake core, faster at 97 (the Sudoku mixer's length; docs/performance.md), slower at 128 (tiny's
    /// D), where OpenBLAS keeps the products.
    static let maximumSmallSide = 112

    /// On a CPU with AVX-512, unless TRMDIS_KERNELS caps the engine's kernels below it (`Elementwise.level`) or
    /// TRMDIS_GEMM=openblas sends every product to OpenBLAS.
    static let isAvailable = !openBLASOnly && Elementwise.level == .avx512 && trmdis_gemm_avx512_built() == 1

    /// TRMDIS_GEMM=openblas: every product through OpenBLAS (docs/performance.md).
    private static let openBLASOnly = getenv("TRMDIS_GEMM").map { String(cString: $0) } == "openblas"

    /// Whether C (+)= A·B with B [k, n] runs here: one side small, the other at most 4,096, and at most 4 of
    /// n's columns past its 32-column panels (each of those costs a dot product per row).
    static func takesPacked(n: Int, k: Int) -> Bool {
        isAvailable && min(n, k) <= maximumSmallSide && max(n, k) <= 4096 && n >= 32 && n % 32 <= 4
    }

    /// The most rows (batch × sequence) whose forward products run on weights packed once per prediction
    /// (`Runner.withPackedWeights`): inference on a few puzzles, where OpenBLAS packs the small activation side on
    /// every call. Measured on the Zen 4 (AMD EPYC, AVX-512; OpenBLAS 0.3.21 on its Cooperlake core; one core,
    /// docs/performance.md, "Batch 1 on packed weights"): at 97 rows 98-104 against 78-82 GFLOP/s, at 388 rows 91
    /// against 81. The AVX2 kernel against OpenBLAS's Zen core on the same CPU: 103-110 against 90-98 at 97-388
    /// rows, even at 512.
    static let maximumPackedWeightRows = 512

    /// The kernels of a product on packed weights: 14 × 32 tiles in AVX-512 registers, or 6 × 16 in AVX2's.
    enum PanelKernel: Sendable { case avx512, avx2 }

    /// The kernel of inference on packed weights: the mixer's AVX-512 kernel where it runs (`isAvailable`), else
    /// the AVX2 twin on a CPU with AVX2 and FMA, unless TRMDIS_KERNELS=baseline or TRMDIS_GEMM=openblas; nil
    /// (OpenBLAS) otherwise. On the Zen 4 the AVX2 kernel runs 1-12% behind the AVX-512 one (docs/performance.md,
    /// "Batch 1 on packed weights").
    static let weightsKernel: PanelKernel? = isAvailable ? .avx512
        : !openBLASOnly && Elementwise.level >= .avx2 && trmdis_gemm_avx2_built() == 1 ? .avx2 : nil

    /// Whether a runner of `rows` rows runs its channel products on packed weights: any runner on AVX-512
    /// (`trainsOnPackedWeights`), on AVX2 a runner of few rows.
    static func takesPackedWeights(rows: Int) -> Bool {
        trainsOnPackedWeights || (weightsKernel != nil && rows <= maximumPackedWeightRows)
    }

    /// Whether training's forward products run on the weights packed once per step (`Runner.forward`): on AVX-512,
    /// where the kernel ran training's shapes (thousands of rows, B of megabytes) 2-20% faster than OpenBLAS's
    /// Cooperlake core on the Zen 4 (docs/performance.md, "Training on packed weights"). The AVX2 kernel was
    /// even with OpenBLAS's Zen core there and stays out of training.
    static var trainsOnPackedWeights: Bool { weightsKernel == .avx512 }

    /// Whether C [m, n] += Xᵀ·Y runs here.
    static func takesTN(m: Int, n: Int) -> Bool { isAvailable && n % 32 == 0 && m <= maximumSmallSide }

    /// B = Wᵀ for W [n, k] (a Linear layer's weight, as in x·Wᵀ) into the panels `packed` reads: n·k floats.
    static func packNT(_ w: UnsafePointer<Float>, n: Int, k: Int, into packed: UnsafeMutablePointer<Float>) {
        trmdis_pack_nt(w, n, k, packed)
    }

    /// B [k, n] itself into the panels `packed` reads: n·k floats.
    static func packNN(_ b: UnsafePointer<Float>, n: Int, k: Int, into packed: UnsafeMutablePointer<Float>) {
        trmdis_pack_nn(b, n, k, packed)
    }

    /// C [m, n] = A [m, k]·B, or C += A·B, on the calling thread; B packed by `packNT` or `packNN`.
    static func product(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>,
                        _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        trmdis_sgemm_packed(m, n, k, a, lda, packed, c, ldc, accumulate ? 1 : 0)
    }

    /// `product` with C's rows split across the pool (each row computed by one thread: reproducible).
    static func productSplit(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>,
                             _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        GEMMProfile.section("packed product, own AVX-512 kernel", flops: 2 * Double(m) * Double(n) * Double(k)) {
            Threads.pool.parallelFor(m, minimumPerThread: 56, (n, k, a, lda, packed, c, ldc, accumulate)) { args, rows in
                let (n, k, a, lda, packed, c, ldc, accumulate) = args
                trmdis_sgemm_packed(rows.count, n, k, a + rows.lowerBound * lda, lda, packed, c + rows.lowerBound * ldc,
                                    ldc, accumulate ? 1 : 0)
            }
        }
    }

    /// `product` with C's 32-column panels split across the pool, every thread running all of A's rows against
    /// its share of the weights (which then stay in its own cache); the last thread takes the n % 32 tail
    /// columns. From 1,024 rows (training's batches) C's rows are split instead: each thread then reads half of A
    /// against all the weights, 5-7% faster there with two threads (docs/performance.md). Each element is summed
    /// by one thread in a fixed order: the same bits for any thread count and either split.
    /// `kernel`: the engine's choice (`weightsKernel`) unless a test names one the CPU can run.
    static func productPanelsSplit(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                                   packed: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                                   accumulate: Bool, kernel: PanelKernel? = nil) {
        guard let kernel = kernel ?? weightsKernel else { preconditionFailure("no kernel for packed weights here") }
        let name: StaticString = kernel == .avx512 ? "packed weights product, own AVX-512 kernel"
            : "packed weights product, own AVX2 kernel"
        GEMMProfile.section(name, flops: 2 * Double(m) * Double(n) * Double(k)) {
            if m >= 1024 {
                Threads.pool.parallelFor(m, minimumPerThread: 512, (n, k, a, lda, packed, c, ldc, accumulate, kernel)) {
                    args, rows in
                    let (n, k, a, lda, packed, c, ldc, accumulate, kernel) = args
                    panelProduct(kernel, m: rows.count, n: n, k: k, a + rows.lowerBound * lda, lda: lda, packed: packed,
                                 c + rows.lowerBound * ldc, ldc: ldc, accumulate: accumulate)
                }
                return
            }
            let panels = n / 32
            Threads.pool.parallelFor(max(panels, 1), minimumPerThread: 2,
                                     (m, n, k, a, lda, packed, c, ldc, accumulate, kernel)) { args, range in
                let (m, n, k, a, lda, packed, c, ldc, accumulate, kernel) = args
                let first = range.lowerBound * 32
                let columns = range.upperBound >= n / 32 ? n - first : range.count * 32
                panelProduct(kernel, m: m, n: columns, k: k, a, lda: lda, packed: packed + first * k, c + first,
                             ldc: ldc, accumulate: accumulate)
            }
        }
    }

    /// `product` on the calling thread with the named kernel.
    private static func panelProduct(_ kernel: PanelKernel, m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                                     packed: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                                     accumulate: Bool) {
        switch kernel {
        case .avx512: trmdis_sgemm_packed(m, n, k, a, lda, packed, c, ldc, accumulate ? 1 : 0)
        case .avx2: trmdis_sgemm_packed_avx2(m, n, k, a, lda, packed, c, ldc, accumulate ? 1 : 0)
        }
    }

    /// C [m, n] += Xᵀ·Y summed over `rows` rows of X [rows, m] and Y [rows, n], C's 32-column panels split across
    /// the pool (each element summed by one thread in a fixed order: reproducible for a thread count).
    static func tnRows(m: Int, n: Int, rows: Int, _ x: UnsafePointer<Float>, ldx: Int, _ y: UnsafePointer<Float>,
                       ldy: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        let name: StaticString = m * rows > 1 << 20 ? "TN weight gradient (long), own AVX-512 kernel"
            : "TN weight gradient, own AVX-512 kernel"
        GEMMProfile.section(name, flops: 2 * Double(m) * Double(n) * Double(rows)) {
            Threads.pool.parallelFor(n / 32, (m, rows, x, ldx, y, ldy, c, ldc)) { args, panels in
                let (m, rows, x, ldx, y, ldy, c, ldc) = args
                let first = panels.lowerBound * 32
                trmdis_sgemm_tn_rows(m, panels.count * 32, rows, x, ldx, y + first, ldy, c + first, ldc)
            }
        }
    }
}
