#if canImport(Glibc)
import Glibc
#endif

/// Rotary position embedding in the half-split layout (docs/model.md: The network): a head vector h = [a ; b] of
/// head_dim values becomes [a·cos − b·sin ; b·cos + a·sin], where columns i and i + head_dim/2 share
/// the frequency θ^(−2i/head_dim) and position t has angle t·freq.
struct RoPE {
    let headDim: Int
    let length: Int
    /// [length, headDim/2] tables (the second half repeats the first, so only one half is stored).
    let cos: UnsafeMutablePointer<Float>
    let sin: UnsafeMutablePointer<Float>

    init(headDim: Int, length: Int, theta: Double, arena: Arena) throws(TRMError) {
        self.headDim = headDim
        self.length = length
        let half = headDim / 2
        cos = try arena.floats(length * half)
        sin = try arena.floats(length * half)
        for t in 0..<length {
            for i in 0..<half {
                // Computed as PyTorch does: inv_freq in float32, then the angle in float32.
                let invFreq = Float(1.0 / pow(theta, Double(2 * i) / Double(headDim)))
                let angle = Float(t) * invFreq
                cos[t * half + i] = cosf(angle)
                sin[t * half + i] = sinf(angle)
            }
        }
    }

    /// Rotates one head's vectors at positions 0..<count in place (row t at `h + t·stride`), or applies
    /// the transpose rotation (`inverse`). The attention jobs call it on their own (example, head) slice
    /// right before (or after) using it, so RoPE needs no pass of its own over qkv.
    @inline(__always)
    func rotate(_ h: UnsafeMutablePointer<Float>, stride: Int, count: Int, inverse: Bool) {
        let half = headDim / 2
        let sign: Float = inverse ? -1 : 1
        for t in 0..<count {
            let a = h + t * stride, b = a + half
            let c = cos + t * half, s = sin + t * half
            var i = 0
            while i + 8 <= half {
                let av = VectorMath.load(a + i), bv = VectorMath.load(b + i)
                let cv = VectorMath.load(c + i), sv = sign * VectorMath.load(s + i)
                VectorMath.store(av * cv - bv * sv, a + i)
                VectorMath.store(bv * cv + av * sv, b + i)
                i += 8
            }
            while i < half {
                let ai = a[i], bi = b[i], si = sign * s[i]
                a[i] = ai * c[i] - bi * si
                b[i] = bi * c[i] + ai * si
                i += 1
            }
        }
    }

    /// Rotates the q and k parts of every row of a fused [rows, 3·D] qkv buffer in place; row r sits at
    /// position r mod length. `inverse` applies the transpose rotation, which is the backward pass.
    func apply(qkv: UnsafeMutablePointer<Float>, rows: Int, heads: Int, inverse: Bool) {
        let half = headDim / 2, dModel = heads * headDim
        let sign: Float = inverse ? -1 : 1
        Threads.pool.parallelFor(rows, minimumPerThread: 16, (qkv, cos, sin, length, half, heads, headDim, dModel, sign)) {
            args, range in
            let (qkv, cos, sin, length, half, heads, headDim, dModel, sign) = args
            for r in range {
                let t = r % length
                let c = cos + t * half, s = sin + t * half
                for part in 0..<2 {  // q, then k
                    for h in 0..<heads {
                        let a = qkv + r * 3 * dModel + part * dModel + h * headDim, b = a + half
                        for i in 0..<half {
                            let ai = a[i], bi = b[i], si = sign * s[i]
                            a[i] = ai * c[i] - bi * si
                            b[i] = bi * c[i] + ai * si
                        }
                    }
                }
            }
        }
    }
}
