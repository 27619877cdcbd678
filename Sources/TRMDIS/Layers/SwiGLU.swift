#if canImport(Glibc)
import Glibc
#endif

/// SwiGLU over rows of `width`: out = Down(SiLU(gate) ⊙ up), with one fused gate_up projection whose first
/// half is the gate and second half the up branch (docs/model.md: The network). Used over the hidden axis in every
/// block and over the sequence axis in the `mlp_t` token mixer.
struct SwiGLU {
    let width: Int
    let inner: Int

    @inline(__always) private static func sigmoid(_ x: Float) -> Float { VectorMath.sigmoid(.init(repeating: x))[0] }

    /// act[r, j] = SiLU(gate[r, j]) · up[r, j], reading the fused [rows, 2·inner] projection.
    private func activate(_ gateUp: UnsafePointer<Float>, _ act: UnsafeMutablePointer<Float>, rows: Int) {
        let inner = self.inner
        Threads.pool.parallelFor(rows, minimumPerThread: max(1, 8192 / inner), (gateUp, act, inner)) { args, range in
            let (gateUp, act, inner) = args
            for r in range {
                let g = gateUp + r * 2 * inner, u = g + inner, a = act + r * inner
                var j = 0
                while j + 8 <= inner {
                    let gv = VectorMath.load(g + j)
                    VectorMath.store(gv * VectorMath.sigmoid(gv) * VectorMath.load(u + j), a + j)
                    j += 8
                }
                while j < inner { a[j] = g[j] * SwiGLU.sigmoid(g[j]) * u[j]; j += 1 }
            }
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
            for r in range {
                let g = gateUp + r * 2 * inner, u = g + inner, da = act + r * inner
                let dg = dGateUp + r * 2 * inner, du = dg + inner
                var j = 0
                while j + 8 <= inner {
                    let gv = VectorMath.load(g + j), uv = VectorMath.load(u + j), dav = VectorMath.load(da + j)
                    let s = VectorMath.sigmoid(gv)
                    VectorMath.store(dav * gv * s, du + j)
                    VectorMath.store(dav * uv * s * (1 + gv * (1 - s)), dg + j)
                    j += 8
                }
                while j < inner {
                    let gj = g[j], uj = u[j], s = SwiGLU.sigmoid(gj), silu = gj * s
                    du[j] = da[j] * silu
                    dg[j] = da[j] * uj * s * (1 + gj * (1 - s))
                    j += 1
                }
            }
        }
        Linear.backward(dGateUp, x, wGateUp, dx: dx, dW: dWGateUp,
                        rows: rows, inFeatures: width, outFeatures: 2 * inner, accumulate: true)
    }
}
