import TRMDISKernelsC

/// SwiGLU's forward and backward with every pool thread working through its own rows (docs/performance.md,
/// "The `mlp_t` mixer's products and SwiGLU per thread"): the maths of SwiGLU.swift, scheduled so that each
/// step reads what the step before it left in the thread's cache and no product is handed between threads.
extension SwiGLU {
    /// The widest `width` whose forward runs fused. Measured on the Zen 5 (AMD EPYC, AVX-512; OpenBLAS 0.3.21
    /// on its Cooperlake core; training, 2 threads, alternating runs): fused is 2-3% faster at 128 (tiny), the
    /// same at 256 (compact), and 2-3% slower at 512 (medium, sudoku-mlp's channel SwiGLU), where OpenBLAS runs
    /// the whole [3104, 512]·[512, 3072] product split across the threads at its peak and per-thread blocks of
    /// 256 rows at 97% of it. The mixer (97) fuses. (On AVX-512 the channel SwiGLU now runs on packed weights,
    /// product by product: `panels` in `forward`.)
    static let widestFused = 256

    /// Rows a thread's forward and backward take per pass through their steps where the engine's own kernels run
    /// them, at most `perThread` (OpenBLAS's products keep `perThread`: it packs A on every call): few enough
    /// that a pass's gate_up and activation rows (4 and 2 KiB a row for the Sudoku mixer) stay in L2 beside the
    /// weights, in whole 14-row tiles. Measured on the Zen 4 (AMD EPYC, AVX-512; OpenBLAS 0.3.21 on its Cooperlake
    /// core; sudoku-mlp training, 2 threads, runs alternating; docs/performance.md, "The mixer in passes that
    /// stay in L2"): the forward at 28-84 rows took 10-13% less time than at the thread's 1,024 (56: 12%), the
    /// backward at 84-280 rows 12-14% less (best at 112, where its weight-gradient slots are read and written
    /// half as often as at 56).
    static let forwardPassRows = 56, backwardPassRows = 112

    /// Whether the fused forward runs the whole MLP in one pass over blocks of rows (mlp_avx2.c: gate_up, the
    /// activation and the down product in registers and L1, gate_up written only for the backward): on a CPU
    /// where the AVX2 kernels run the engine's own products (`SmallGEMM.weightsKernel`, no AVX-512), at a narrow
    /// width (the `mlp_t` mixer's sequence; a channel SwiGLU of D <= 112). Measured on the Zen 4's AVX2 code
    /// (AMD EPYC family 25 model 17; OpenBLAS 0.3.21 on its Zen core, OPENBLAS_CORETYPE=Zen; two threads, a C
    /// harness; docs/performance.md, "The mixer in one pass on AVX2"): the Sudoku mixer's [16384, 97] with
    /// inner 512 in 7-11% less time than OpenBLAS's products and the activation in turn with gate_up written,
    /// 17-23% less without; width 64 with inner 256 13% and 33-37% less.
    static func runsOnePass(width: Int) -> Bool {
        SmallGEMM.weightsKernel == .avx2 && trmdis_mlp_avx2_built() == 1 && width <= SmallGEMM.maximumSmallSide
    }

    /// The weights packed for the one-pass forward, after the activation's chunk in `act`; 0 where it does not run.
    var onePassCount: Int { Self.runsOnePass(width: width) ? trmdis_mlp_packed_count(width, inner) : 0 }

    /// Whether the fused forward on the engine's AVX-512 products forms the activation in the gate_up product's
    /// registers (mlp_avx512.c: the same bits, gate_up stored only where a backward follows), where the up half
    /// starts at a 32-column panel. Measured on the Zen 4 (AMD EPYC family 25 model 17, AVX-512; OpenBLAS 0.3.21
    /// on its Cooperlake core; sudoku-mlp training, three alternating pairs; docs/performance.md, "The mixer in one
    /// pass on AVX2"): the mixer's forward 14.3-15.1% of the step against 16.1-16.4%.
    static func formsActivationInTiles(inner: Int) -> Bool { trmdis_mlp_avx512_built() == 1 && inner % 32 == 0 }

    /// Rows of the `act` scratch a pool thread owns in the fused forward and backward (one `threads`-th of it),
    /// the most it takes per pass; 0 where the forward runs product by product. A pass's gate_up then stays in
    /// the thread's cache for the activation. Each product must stay tall enough to run near the
    /// sgemm peak (128 rows; the batch-1 shapes run product by product, split across the threads).
    /// `fused` forces the choice (tests compare both paths).
    func fusedRows(_ rows: Int, threads: Int, fused: Bool?) -> Int {
        let perThread = max(1, chunkRows(rows) / threads)
        return fused ?? (threads > 1 && perThread >= 128 && width <= Self.widestFused) ? perThread : 0
    }

    /// The backward fused per thread (`fusedBackward`): on a narrow width where the engine's own kernels run all
    /// its products. Each thread then sums its rows' weight gradients into its own slot of `partialCount`
    /// floats (dW_down, then dW_guᵀ), for the pool's thread count when the scratch was sized (as attention's
    /// dP slots); with more threads, or fewer rows, the backward runs chunk by chunk.
    static func fusesBackward(width: Int, inner: Int) -> Bool {
        SmallGEMM.takesTN(m: width, n: inner) && SmallGEMM.takesTN(m: width, n: 2 * inner)
            && SmallGEMM.takesPacked(n: inner, k: width) && SmallGEMM.takesPacked(n: width, k: 2 * inner)
    }
    var partialCount: Int { 3 * width * inner }

    /// `forward` with every pool thread taking its own contiguous block of rows, a pass at a time: the
    /// gate_up product, the activation and the down product in turn, each on one thread (OpenBLAS's
    /// sgemmSerial, or the engine's own kernels at a narrow width, `SmallGEMM`). The
    /// activation reads gate_up from the cache the product just wrote it to, rather than from memory after
    /// the whole product (on AVX-512 it is formed in the product's registers, `formsActivationInTiles`; on
    /// AVX2 at a narrow width the whole MLP runs in one pass, `runsOnePass`), and no product is handed between
    /// threads. Each row's values are those of the
    /// product-by-product path's operations; the split depends only on the thread count.
    func fusedForward(_ x: UnsafePointer<Float>, wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                      gateUp: UnsafeMutablePointer<Float>, act: UnsafeMutablePointer<Float>,
                      out: UnsafeMutablePointer<Float>, rows: Int, threads: Int, perThread: Int,
                      keepsGateUp: Bool = true) {
        let flops = 2 * Double(rows) * Double(3 * inner * width)
        // A narrow width (the mixer's sequence length): the products through the engine's own kernel, each
        // weight packed once here into the scratch after the activation's chunk.
        let packedGateUp: UnsafeMutablePointer<Float>? = packedGateUpCount > 0 ? act + chunkRows(rows) * inner : nil
        let packedDown: UnsafeMutablePointer<Float>? =
            packedDownCount > 0 ? act + chunkRows(rows) * inner + packedGateUpCount : nil
        if let packedGateUp { SmallGEMM.packNT(wGateUp, n: 2 * inner, k: width, into: packedGateUp) }
        if let packedDown { SmallGEMM.packNT(wDown, n: width, k: inner, into: packedDown) }
        // On AVX2 at a narrow width: the whole MLP in one pass, each thread's blocks in its share of `act`.
        let onePass: UnsafeMutablePointer<Float>? = onePassCount > 0
            && perThread * inner >= trmdis_mlp_scratch_count(width, inner) ? act + chunkRows(rows) * inner : nil
        if let onePass { trmdis_mlp_pack(wGateUp, wDown, width, inner, onePass) }
        let packed = (gateUp: packedGateUp, down: packedDown, onePass: UnsafePointer(onePass),
                      savedGateUp: keepsGateUp ? gateUp : nil,
                      activationInTiles: packedGateUp != nil && Self.formsActivationInTiles(inner: inner))
        let name: StaticString = onePass != nil ? "SwiGLU forward, one pass per thread, AVX2 (its products included)"
            : packedGateUp == nil ? "SwiGLU forward, fused per thread (its products included)"
            : "SwiGLU forward, fused per thread, own AVX-512 products (included)"
        GEMMProfile.section(name, flops: flops) {
            Threads.pool.runOnAll((self, x, wGateUp, wDown, gateUp, act, out, rows, threads, perThread, packed)) { args, t in
                let (s, x, wGateUp, wDown, gateUp, act, out, rows, threads, perThread, packed) = args
                let width = s.width, inner = s.inner
                let threadAct = act + t * perThread * inner
                let ownKernels = packed.gateUp != nil && packed.down != nil
                let passRows = ownKernels ? min(perThread, Self.forwardPassRows) : perThread
                let end = rows * (t + 1) / threads
                var first = rows * t / threads
                if let onePass = packed.onePass {
                    trmdis_mlp_swiglu_avx2(end - first, width, inner, x + first * width, onePass, out + first * width,
                                           packed.savedGateUp.map { $0 + first * 2 * inner }, threadAct)
                    return
                }
                while first < end {
                    let count = min(passRows, end - first)
                    let rowsGateUp = gateUp + first * 2 * inner
                    if let panels = packed.gateUp, packed.activationInTiles {
                        // The activation formed in the product's registers (mlp_avx512.c), the same bits.
                        trmdis_mlp_gate_up_avx512(count, width, inner, x + first * width, panels, threadAct,
                                                  packed.savedGateUp.map { $0 + first * 2 * inner })
                    } else {
                        if let panels = packed.gateUp {
                            SmallGEMM.product(m: count, n: 2 * inner, k: width, x + first * width, lda: width,
                                              packed: panels, rowsGateUp, ldc: 2 * inner, accumulate: false)
                        } else {
                            sgemmSerial(transA: false, transB: true, m: count, n: 2 * inner, k: width, alpha: 1,
                                        x + first * width, lda: width, wGateUp, ldb: width, beta: 0, rowsGateUp,
                                        ldc: 2 * inner)
                        }
                        Elementwise.swiGLU(rowsGateUp, threadAct, inner: inner, rows: 0..<count)
                    }
                    if let panels = packed.down {
                        SmallGEMM.product(m: count, n: width, k: inner, threadAct, lda: inner, packed: panels,
                                          out + first * width, ldc: width, accumulate: false)
                    } else {
                        sgemmSerial(transA: false, transB: true, m: count, n: width, k: inner, alpha: 1,
                                    threadAct, lda: inner, wDown, ldb: inner, beta: 0, out + first * width, ldc: width)
                    }
                    first += count
                }
            }
        }
    }

    /// Where the per-thread weight-gradient slots start in `act`.
    func partialsOffset(_ rows: Int) -> Int { chunkRows(rows) * inner + packedGateUpCount + packedDownCount + onePassCount }

    /// `backward` with every pool thread taking its own rows, `backwardPassRows` at a time, each step on one
    /// thread with the engine's own kernels: the activation again, dW_down's share (into the thread's slot), dAct =
    /// dOut·W_down, the activation's gradient, dW_guᵀ's share (its slot), and dx += dGateUp·W_gu, so every
    /// product reads what the step before it left in the thread's cache. The slots are then added in thread
    /// order (reproducible for a thread count). W_down and W_gu are packed once, where the forward packs them.
    func fusedBackward(_ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, gateUp: UnsafePointer<Float>,
                       wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                       dWGateUp: UnsafeMutablePointer<Float>, dWDown: UnsafeMutablePointer<Float>,
                       act: UnsafeMutablePointer<Float>, dGateUp: UnsafeMutablePointer<Float>,
                       dx: UnsafeMutablePointer<Float>, rows: Int, threads: Int, perThread: Int) {
        let packedGateUp = act + chunkRows(rows) * inner, packedDown = packedGateUp + packedGateUpCount
        let partials = act + partialsOffset(rows)
        SmallGEMM.packNN(wDown, n: inner, k: width, into: packedDown)
        SmallGEMM.packNN(wGateUp, n: width, k: 2 * inner, into: packedGateUp)
        let flops = 2 * Double(rows) * Double(6 * inner * width)
        let buffers = (dOut: dOut, x: x, gateUp: gateUp, dGateUp: dGateUp, dx: dx, act: act, partials: partials,
                       packedGateUp: UnsafePointer(packedGateUp), packedDown: UnsafePointer(packedDown))
        GEMMProfile.section("SwiGLU backward, fused per thread, own AVX-512 products (included)", flops: flops) {
            Threads.pool.runOnAll((self, buffers, rows, threads, perThread)) { args, t in
                let (s, b, rows, threads, perThread) = args
                let width = s.width, inner = s.inner
                let threadAct = b.act + t * perThread * inner
                let partialDown = b.partials + t * s.partialCount, partialGateUp = partialDown + width * inner
                Kernels.zero(partialDown, s.partialCount)
                let end = rows * (t + 1) / threads
                var first = rows * t / threads
                while first < end {
                    let count = min(perThread, Self.backwardPassRows, end - first)
                    let gu = b.gateUp + first * 2 * inner, dgu = b.dGateUp + first * 2 * inner
                    let dOutRows = b.dOut + first * width
                    Elementwise.swiGLU(gu, threadAct, inner: inner, rows: 0..<count)
                    trmdis_sgemm_tn_rows(width, inner, count, dOutRows, width, threadAct, inner, partialDown, inner)
                    SmallGEMM.product(m: count, n: inner, k: width, dOutRows, lda: width, packed: b.packedDown,
                                      threadAct, ldc: inner, accumulate: false)
                    Elementwise.swiGLUBackward(gu, dAct: threadAct, dGateUp: dgu, inner: inner, rows: 0..<count)
                    trmdis_sgemm_tn_rows(width, 2 * inner, count, b.x + first * width, width, dgu, 2 * inner,
                                         partialGateUp, 2 * inner)
                    SmallGEMM.product(m: count, n: width, k: 2 * inner, dgu, lda: 2 * inner, packed: b.packedGateUp,
                                      b.dx + first * width, ldc: width, accumulate: true)
                    first += count
                }
            }
            for t in 0..<threads {
                let partialDown = partials + t * partialCount
                for i in 0..<width * inner { dWDown[i] += partialDown[i] }
                Kernels.addTransposed(partialDown + width * inner, rows: width, cols: 2 * inner, into: dWGateUp)
            }
        }
    }
}
