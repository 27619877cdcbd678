#if canImport(Glibc)
import Glibc
#endif

/// SwiGLU over rows of `width`: out = Down(SiLU(gate) ⊙ up), with one fused gate_up projection whose first
/// half is the gate and second half the up branch (docs/model.md: The network). Used over the hidden axis in every
/// block and over the sequence axis in the `mlp_t` token mixer.
struct SwiGLU {
    let width: Int
    let inner: Int
    /// Per-thread weight-gradient slots in the scratch (`fusedBackward`): the pool's thread count when the
    /// layer (and with it its scratch) was made, or 0 where the backward never fuses.
    let partialSlots: Int

    init(width: Int, inner: Int) {
        self.width = width
        self.inner = inner
        partialSlots = Self.fusesBackward(width: width, inner: inner) ? Threads.count : 0
    }

    /// act[r, j] = SiLU(gate[r, j]) · up[r, j], reading the fused [rows, 2·inner] projection.
    private func activate(_ gateUp: UnsafePointer<Float>, _ act: UnsafeMutablePointer<Float>, rows: Int) {
        let inner = self.inner
        GEMMProfile.section("SwiGLU activation") {
            Threads.pool.parallelFor(rows, minimumPerThread: max(1, 8192 / inner), (gateUp, act, inner)) { args, range in
                let (gateUp, act, inner) = args
                Elementwise.swiGLU(gateUp, act, inner: inner, rows: range)
            }
        }
    }

    /// Rows per pass through the activation. `act` is needed one block of rows at a time (forward: activate,
    /// then the down product; backward: activate, dW_down, dAct, the pre-activation gradient), so the
    /// scratch is an eighth of [rows, inner], or smaller inputs whole; at least 512 rows keep each product
    /// tall enough that OpenBLAS's packing and the pool's hand-off stay small beside the multiply
    /// (docs/performance.md: memory).
    func chunkRows(_ rows: Int) -> Int { min(rows, max(512, (rows + 7) / 8)) }

    /// Floats of `act` scratch that `forward` and `backward` need for `rows`: the activation's chunk, and the
    /// weights in panels where the engine's own products run the fused forward (`SmallGEMM`: a narrow `width`;
    /// on AVX2, `onePassCount`).
    func actScratch(rows: Int) -> Int {
        chunkRows(rows) * inner + packedGateUpCount + packedDownCount + onePassCount + partialSlots * partialCount
    }

    /// W_gu's and W_down's panels for `SmallGEMM.product`, after the chunk in `act`; 0 where OpenBLAS runs them.
    var packedGateUpCount: Int { SmallGEMM.takesPacked(n: 2 * inner, k: width) ? 2 * inner * width : 0 }
    var packedDownCount: Int { SmallGEMM.takesPacked(n: width, k: inner) ? width * inner : 0 }

    /// gateUp = x·W_guᵀ (kept for backward); out = (SiLU(gate)⊙up)·W_downᵀ. `act` is scratch of
    /// `actScratch(rows:)` floats. `fused`: nil chooses (`fusedRows`); true or false forces it. `panels`:
    /// W_gu and W_down packed (`Linear.forward`), which runs the products one by one. `keepsGateUp`: false
    /// where no backward follows; the one-pass forward on AVX2 (`runsOnePass`) and the AVX-512 fused forward
    /// (`formsActivationInTiles`) then leave gateUp unwritten, the other paths use it as scratch.
    func forward(_ x: UnsafePointer<Float>, wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                 gateUp: UnsafeMutablePointer<Float>, act: UnsafeMutablePointer<Float>,
                 out: UnsafeMutablePointer<Float>, rows: Int, fused: Bool? = nil,
                 panels: (gateUp: UnsafePointer<Float>, down: UnsafePointer<Float>)? = nil, keepsGateUp: Bool = true) {
        let threads = Threads.pool.threadCount
        let perThread = panels == nil ? fusedRows(rows, threads: threads, fused: fused) : 0
        if perThread > 0 {
            fusedForward(x, wGateUp: wGateUp, wDown: wDown, gateUp: gateUp, act: act, out: out, rows: rows,
                         threads: threads, perThread: perThread, keepsGateUp: keepsGateUp)
            return
        }
        Linear.forward(x, wGateUp, gateUp, rows: rows, inFeatures: width, outFeatures: 2 * inner, panels: panels?.gateUp)
        forEachChunk(rows) { first, count in
            activate(gateUp + first * 2 * inner, act, rows: count)
            Linear.forward(act, wDown, out + first * width, rows: count, inFeatures: inner, outFeatures: width,
                           panels: panels?.down)
        }
    }

    /// Accumulates the weight gradients and adds the input gradient into `dx` (dx += ∂/∂x).
    /// `dOut` may be the same buffer as `dx`: it is fully read before dx is written.
    /// Scratch: `act` (`actScratch(rows:)` floats) and `dGateUp` [rows, 2·inner]. `dGateUp` may be `gateUp`
    /// itself: each element is read before its gradient is written there, which saves a [rows, 2·inner]
    /// buffer when the saved pre-activation is not needed again. dW_down sums its rows block by block.
    /// `fused`: nil runs it per thread where the engine's own kernels take every product (`fusedBackward`,
    /// SwiGLU+PerThread.swift), else chunk by chunk; true or false forces it (tests compare both paths).
    /// `downPanels`: W_down in the engine's panels as B (`Linear.backward`), for dAct.
    func backward(_ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, gateUp: UnsafePointer<Float>,
                  wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                  dWGateUp: UnsafeMutablePointer<Float>, dWDown: UnsafeMutablePointer<Float>,
                  act: UnsafeMutablePointer<Float>, dGateUp: UnsafeMutablePointer<Float>,
                  dx: UnsafeMutablePointer<Float>, rows: Int, fused: Bool? = nil,
                  downPanels: UnsafePointer<Float>? = nil) {
        let inner = self.inner
        let threads = Threads.pool.threadCount
        let perThread = fusedRows(rows, threads: threads, fused: fused)
        if perThread > 0, threads <= partialSlots {
            fusedBackward(dOut, x: x, gateUp: gateUp, wGateUp: wGateUp, wDown: wDown, dWGateUp: dWGateUp,
                          dWDown: dWDown, act: act, dGateUp: dGateUp, dx: dx, rows: rows, threads: threads,
                          perThread: perThread)
            return
        }
        forEachChunk(rows) { first, count in
            let gateUpRows = gateUp + first * 2 * inner, dGateUpRows = dGateUp + first * 2 * inner
            activate(gateUpRows, act, rows: count)  // recomputed rather than stored
            // dW_down += dOutᵀ·act, then dAct = dOut·W_down into the same buffer.
            if SmallGEMM.takesTN(m: width, n: inner) {
                SmallGEMM.tnRows(m: width, n: inner, rows: count, dOut + first * width, ldx: width, act, ldy: inner,
                                 dWDown, ldc: inner)
                sgemm(transA: false, transB: false, m: count, n: inner, k: width, dOut + first * width, lda: width,
                      wDown, ldb: inner, act, ldc: inner)
            } else {
                Linear.backward(dOut + first * width, act, wDown, dx: act, dW: dWDown,
                                rows: count, inFeatures: inner, outFeatures: width, accumulate: false, panels: downPanels)
            }
            GEMMProfile.section("SwiGLU gradient") {
                Threads.pool.parallelFor(count, minimumPerThread: max(1, 8192 / inner),
                                         (gateUpRows, act, dGateUpRows, inner)) { args, range in
                    let (gateUp, act, dGateUp, inner) = args
                    Elementwise.swiGLUBackward(gateUp, dAct: act, dGateUp: dGateUp, inner: inner, rows: range)
                }
            }
        }
        if SmallGEMM.takesTN(m: width, n: 2 * inner), 2 * inner * width <= chunkRows(rows) * inner {
            // dW_guᵀ [width, 2·inner] = xᵀ·dGateUp through the engine's kernel, in the activation's scratch,
            // then added transposed; dx as below.
            Kernels.zero(act, 2 * inner * width)
            SmallGEMM.tnRows(m: width, n: 2 * inner, rows: rows, x, ldx: width, dGateUp, ldy: 2 * inner, act,
                             ldc: 2 * inner)
            Kernels.addTransposed(act, rows: width, cols: 2 * inner, into: dWGateUp)
            if SmallGEMM.takesPacked(n: width, k: 2 * inner) {  // dx += dGateUp·W_gu, W_gu packed where dW_guᵀ was
                SmallGEMM.packNN(wGateUp, n: width, k: 2 * inner, into: act)
                SmallGEMM.productSplit(m: rows, n: width, k: 2 * inner, dGateUp, lda: 2 * inner, packed: act, dx,
                                       ldc: width, accumulate: true)
            } else {
                sgemm(transA: false, transB: false, m: rows, n: width, k: 2 * inner, dGateUp, lda: 2 * inner,
                      wGateUp, ldb: width, beta: 1, dx, ldc: width)
            }
        } else {
            Linear.backward(dGateUp, x, wGateUp, dx: dx, dW: dWGateUp,
                            rows: rows, inFeatures: width, outFeatures: 2 * inner, accumulate: true)
        }
    }

    private func forEachChunk(_ rows: Int, _ body: (_ first: Int, _ count: Int) -> Void) {
        let chunk = chunkRows(rows)
        for first in stride(from: 0, to: rows, by: chunk) { body(first, min(chunk, rows - first)) }
    }
}
