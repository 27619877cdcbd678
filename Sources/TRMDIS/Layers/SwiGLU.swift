#if canImport(Glibc)
import Glibc
#endif

/// SwiGLU over rows of `width`: out = Down(SiLU(gate) ⊙ up), with one fused gate_up projection whose first
/// half is the gate and second half the up branch (docs/model.md: The network). Used over the hidden axis in every
/// block and over the sequence axis in the `mlp_t` token mixer.
struct SwiGLU {
    let width: Int
    let inner: Int

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

    /// Floats of `act` scratch that `forward` and `backward` need for `rows`.
    func actScratch(rows: Int) -> Int { chunkRows(rows) * inner }

    /// gateUp = x·W_guᵀ (kept for backward); out = (SiLU(gate)⊙up)·W_downᵀ. `act` is scratch of
    /// `actScratch(rows:)` floats.
    func forward(_ x: UnsafePointer<Float>, wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                 gateUp: UnsafeMutablePointer<Float>, act: UnsafeMutablePointer<Float>,
                 out: UnsafeMutablePointer<Float>, rows: Int) {
        Linear.forward(x, wGateUp, gateUp, rows: rows, inFeatures: width, outFeatures: 2 * inner)
        forEachChunk(rows) { first, count in
            activate(gateUp + first * 2 * inner, act, rows: count)
            Linear.forward(act, wDown, out + first * width, rows: count, inFeatures: inner, outFeatures: width)
        }
    }

    /// Accumulates the weight gradients and adds the input gradient into `dx` (dx += ∂/∂x).
    /// `dOut` may be the same buffer as `dx`: it is fully read before dx is written.
    /// Scratch: `act` (`actScratch(rows:)` floats) and `dGateUp` [rows, 2·inner]. `dGateUp` may be `gateUp`
    /// itself: each element is read before its gradient is written there, which saves a [rows, 2·inner]
    /// buffer when the saved pre-activation is not needed again. dW_down sums its rows block by block.
    func backward(_ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, gateUp: UnsafePointer<Float>,
                  wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                  dWGateUp: UnsafeMutablePointer<Float>, dWDown: UnsafeMutablePointer<Float>,
                  act: UnsafeMutablePointer<Float>, dGateUp: UnsafeMutablePointer<Float>,
                  dx: UnsafeMutablePointer<Float>, rows: Int) {
        let inner = self.inner
        forEachChunk(rows) { first, count in
            let gateUpRows = gateUp + first * 2 * inner, dGateUpRows = dGateUp + first * 2 * inner
            activate(gateUpRows, act, rows: count)  // recomputed rather than stored
            // dW_down += dOutᵀ·act, then dAct = dOut·W_down into the same buffer.
            Linear.backward(dOut + first * width, act, wDown, dx: act, dW: dWDown,
                            rows: count, inFeatures: inner, outFeatures: width, accumulate: false)
            GEMMProfile.section("SwiGLU gradient") {
                Threads.pool.parallelFor(count, minimumPerThread: max(1, 8192 / inner),
                                         (gateUpRows, act, dGateUpRows, inner)) { args, range in
                    let (gateUp, act, dGateUp, inner) = args
                    Elementwise.swiGLUBackward(gateUp, dAct: act, dGateUp: dGateUp, inner: inner, rows: range)
                }
            }
        }
        Linear.backward(dGateUp, x, wGateUp, dx: dx, dW: dWGateUp,
                        rows: rows, inFeatures: width, outFeatures: 2 * inner, accumulate: true)
    }

    private func forEachChunk(_ rows: Int, _ body: (_ first: Int, _ count: Int) -> Void) {
        let chunk = chunkRows(rows)
        for first in stride(from: 0, to: rows, by: chunk) { body(first, min(chunk, rows - first)) }
    }
}
