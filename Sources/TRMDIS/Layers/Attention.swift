#if canImport(Glibc)
import Glibc
#endif

/// Non-causal multi-head self-attention with one fused qkv projection (features ordered
/// [q heads | k heads | v heads], head j at j·head_dim), RoPE on q and k, scale 1/sqrt(head_dim),
/// no mask, and an output projection (docs/model.md: The network).
struct Attention {
    let batch: Int
    let length: Int
    let heads: Int
    let headDim: Int
    var dModel: Int { heads * headDim }
    var rows: Int { batch * length }

    /// What backward needs from forward.
    struct Saved {
        let qkv: UnsafeMutablePointer<Float>      // [rows, 3D], q and k already rotated
        let probs: UnsafeMutablePointer<Float>    // [batch, heads, length, length]
        let context: UnsafeMutablePointer<Float>  // [rows, D], heads concatenated, before o_proj
    }

    /// out = o_proj(attention(x)). `panels`: W_qkv and W_o packed (`Linear.forward`), or nil.
    func forward(_ x: UnsafePointer<Float>, wQKV: UnsafePointer<Float>, wO: UnsafePointer<Float>, rope: RoPE?,
                 saved: Saved, out: UnsafeMutablePointer<Float>,
                 panels: (qkv: UnsafePointer<Float>, o: UnsafePointer<Float>)? = nil) {
        let d = dModel, hd = headDim
        Linear.forward(x, wQKV, saved.qkv, rows: rows, inFeatures: d, outFeatures: 3 * d, panels: panels?.qkv)
        let scale = 1 / Float(hd).squareRoot()
        // One (example, head) pair per job; the products inside are small, so each runs on one thread.
        // RoPE rotates the job's q and k head while they are about to be used (the saved qkv is rotated).
        GEMMProfile.section("attention per head, forward (its products included)") {
            Threads.pool.parallelFor(batch * heads, (self, saved, rope, scale)) { args, range in
                let (attention, saved, rope, scale) = args
                let d = attention.dModel, l = attention.length, hd = attention.headDim, heads = attention.heads
                for job in range {
                    let b = job / heads, h = job % heads
                    let q = saved.qkv + b * l * 3 * d + h * hd, k = q + d, v = q + 2 * d
                    if let rope {
                        rope.rotate(q, stride: 3 * d, count: l, inverse: false)
                        rope.rotate(k, stride: 3 * d, count: l, inverse: false)
                    }
                    let p = saved.probs + job * l * l
                    sgemmSerial(transA: false, transB: true, m: l, n: l, k: hd, alpha: scale,
                                q, lda: 3 * d, k, ldb: 3 * d, beta: 0, p, ldc: l)
                    for i in 0..<l { Elementwise.softmaxRow(p + i * l, l) }
                    sgemmSerial(transA: false, transB: false, m: l, n: hd, k: l, alpha: 1,
                                p, lda: l, v, ldb: 3 * d, beta: 0, saved.context + b * l * d + h * hd, ldc: d)
                }
            }
        }
        Linear.forward(saved.context, wO, out, rows: rows, inFeatures: d, outFeatures: d, panels: panels?.o)
    }

    /// Accumulates dW_qkv and dW_o and adds the input gradient into `dx`. `dOut` may alias `dx`.
    /// Scratch: `dContext` [rows, D], `dQKV` [rows, 3D], `dProbs` [dProbsSlots, length, length].
    /// `dQKV` may be `saved.qkv` itself (which backward then consumes); each dProbs slot must then hold
    /// length·(length + headDim) values, the extra part keeping dK while Q is still needed.
    /// `oPanels`: W_o in the engine's panels as B (`Linear.backward`), for dContext.
    func backward(_ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, wQKV: UnsafePointer<Float>,
                  wO: UnsafePointer<Float>, rope: RoPE?, saved: Saved,
                  dWQKV: UnsafeMutablePointer<Float>, dWO: UnsafeMutablePointer<Float>,
                  dContext: UnsafeMutablePointer<Float>, dQKV: UnsafeMutablePointer<Float>,
                  dProbs: UnsafeMutablePointer<Float>, dProbsSlots: Int, dx: UnsafeMutablePointer<Float>,
                  oPanels: UnsafePointer<Float>? = nil) {
        let d = dModel, l = length, hd = headDim
        Linear.backward(dOut, saved.context, wO, dx: dContext, dW: dWO,
                        rows: rows, inFeatures: d, outFeatures: d, accumulate: false, panels: oPanels)
        let scale = 1 / Float(hd).squareRoot()
        let chunks = min(Threads.count, dProbsSlots)  // one dP scratch per working thread
        let inPlace = dQKV == saved.qkv
        let slot = l * l + (inPlace ? l * hd : 0)
        let buffers = (dProbs: dProbs, dQKV: dQKV, dContext: dContext)
        GEMMProfile.section("attention per head, backward (its products included)") {
            Threads.pool.runOnAll((self, saved, rope, scale, buffers, chunks, inPlace, slot)) { args, t in
                let (attention, saved, rope, scale, buffers, chunks, inPlace, slot) = args
                let (dProbs, dQKV, dContext) = buffers
                let d = attention.dModel, l = attention.length, hd = attention.headDim, heads = attention.heads
                guard t < chunks else { return }
                let jobs = attention.batch * heads
                let start = jobs * t / chunks, end = jobs * (t + 1) / chunks
                let dp = dProbs + t * slot
                for job in start..<end {
                    let b = job / heads, h = job % heads
                    let base = b * l * 3 * d + h * hd
                    let q = saved.qkv + base, k = q + d, v = q + 2 * d
                    let dq = dQKV + base, dk = dq + d, dv = dq + 2 * d
                    let p = saved.probs + job * l * l
                    let dctx = dContext + b * l * d + h * hd
                    // dP = dC·Vᵀ ; dV = Pᵀ·dC (V is not needed after dP, so dV may overwrite it)
                    sgemmSerial(transA: false, transB: true, m: l, n: l, k: hd, alpha: 1,
                                dctx, lda: d, v, ldb: 3 * d, beta: 0, dp, ldc: l)
                    sgemmSerial(transA: true, transB: false, m: l, n: hd, k: l, alpha: 1,
                                p, lda: l, dctx, ldb: d, beta: 0, dv, ldc: 3 * d)
                    // dS = P ⊙ (dP − rowsum(P ⊙ dP)), in place in dp.
                    for i in 0..<l {
                        let pr = p + i * l, dr = dp + i * l
                        let s = Kernels.dot(pr, dr, l)
                        for j in 0..<l { dr[j] = pr[j] * (dr[j] - s) }
                    }
                    // dQ = scale·dS·K ; dK = scale·dSᵀ·Q. In place, dK waits in the slot's tail until dQ
                    // (which reads K) has overwritten Q.
                    if inPlace {
                        let tmp = dp + l * l
                        sgemmSerial(transA: true, transB: false, m: l, n: hd, k: l, alpha: scale,
                                    dp, lda: l, q, ldb: 3 * d, beta: 0, tmp, ldc: hd)
                        sgemmSerial(transA: false, transB: false, m: l, n: hd, k: l, alpha: scale,
                                    dp, lda: l, k, ldb: 3 * d, beta: 0, dq, ldc: 3 * d)
                        for i in 0..<l { (dk + i * 3 * d).update(from: tmp + i * hd, count: hd) }
                    } else {
                        sgemmSerial(transA: false, transB: false, m: l, n: hd, k: l, alpha: scale,
                                    dp, lda: l, k, ldb: 3 * d, beta: 0, dq, ldc: 3 * d)
                        sgemmSerial(transA: true, transB: false, m: l, n: hd, k: l, alpha: scale,
                                    dp, lda: l, q, ldb: 3 * d, beta: 0, dk, ldc: 3 * d)
                    }
                    // RoPE's backward (the transpose rotation) on this head's dq and dk.
                    if let rope {
                        rope.rotate(dq, stride: 3 * d, count: l, inverse: true)
                        rope.rotate(dk, stride: 3 * d, count: l, inverse: true)
                    }
                }
            }
        }
        Linear.backward(dQKV, x, wQKV, dx: dx, dW: dWQKV, rows: rows, inFeatures: d, outFeatures: 3 * d,
                        accumulate: true)
    }
}
