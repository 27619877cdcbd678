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
        Threads.pool.parallelFor(rows, minimumPerThread: max(1, 8192 / inner), (gateUp, act, inner)) { args, range in
            let (gateUp, act, inner) = args
            Elementwise.swiGLU(gateUp, act, inner: inner, rows: range)
        }
    }

    /// gateUp = x·W_guᵀ (kept for backward); out = (SiLU(gate)⊙up)·W_downᵀ. `act` is scratch [rows, inner].
    func forward(_ x: UnsafePointer<Float>, wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                 gateUp: UnsafeMutablePointer<Float>, act: UnsafeMutablePointer<Float>,
                 out: UnsafeMutablePointer<Float>, rows: Int) {
        Linear.forward(x, wGateUp, gateUp, rows: rows, inFeatures: width, outFeatures: 2 * inner)
        activate(gateUp, act, rows: rows)
        Linear.forward(act, wDown, out, rows: rows, inFeatures: inner, outFeatures: width)
    }

    /// Accumulates the weight gradients and adds the input gradient into `dx` (dx += ∂/∂x).
    /// `dOut` may be the same buffer as `dx`: it is fully read before dx is written.
    /// Scratch: `act` [rows, inner] and `dGateUp` [rows, 2·inner]. `dGateUp` may be `gateUp` itself: each
    /// element is read before its gradient is written there, which saves a [rows, 2·inner] buffer when
    /// the saved pre-activation is not needed again.
    func backward(_ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, gateUp: UnsafePointer<Float>,
                  wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                  dWGateUp: UnsafeMutablePointer<Float>, dWDown: UnsafeMutablePointer<Float>,
                  act: UnsafeMutablePointer<Float>, dGateUp: UnsafeMutablePointer<Float>,
                  dx: UnsafeMutablePointer<Float>, rows: Int) {
        activate(gateUp, act, rows: rows)  // recomputed rather than stored
        // dW_down += dOutᵀ·act, then dAct = dOut·W_down into the same buffer.
        Linear.backward(dOut, act, wDown, dx: act, dW: dWDown,
                        rows: rows, inFeatures: inner, outFeatures: width, accumulate: false)
        let inner = self.inner
        Threads.pool.parallelFor(rows, minimumPerThread: max(1, 8192 / inner), (gateUp, act, dGateUp, inner)) { args, range in
            let (gateUp, act, dGateUp, inner) = args
            Elementwise.swiGLUBackward(gateUp, dAct: act, dGateUp: dGateUp, inner: inner, rows: range)
        }
        Linear.backward(dGateUp, x, wGateUp, dx: dx, dW: dWGateUp,
                        rows: rows, inFeatures: width, outFeatures: 2 * inner, accumulate: true)
    }
}
