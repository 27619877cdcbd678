/// The output heads (docs/model.md: The network): lm_head (D → vocab, no bias) on the grid positions of y, and
/// q_head (D → 2 with bias; [q_halt, q_continue]) on position 0 of y.
struct Heads {
    let config: ModelConfig
    let batch: Int
    let layout: ParameterLayout

    /// logits [B, seqLen, vocab] and q [B, 2] from y [B, L, D].
    func forward(_ y: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                 logits: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, len = c.totalLen, v = c.vocabSize
        for b in 0..<batch {
            Linear.forward(y + (b * len + c.puzzleEmbLen) * d, w + layout.lmHead, logits + b * c.seqLen * v,
                           rows: c.seqLen, inFeatures: d, outFeatures: v)
            let y0 = y + b * len * d
            for k in 0..<2 {
                q[b * 2 + k] = Kernels.dot(y0, w + layout.qHeadWeight + k * d, d) + w[layout.qHeadBias + k]
            }
        }
    }

    /// dy [B, L, D] (overwritten) from dLogits and dQ; accumulates the heads' weight gradients.
    func backward(dLogits: UnsafePointer<Float>, dQ: UnsafePointer<Float>, y: UnsafePointer<Float>,
                  weights w: UnsafePointer<Float>, dW: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, len = c.totalLen, v = c.vocabSize
        Kernels.zero(dy, batch * len * d)
        for b in 0..<batch {
            let prefixOffset = c.puzzleEmbLen * d
            Linear.backward(dLogits + b * c.seqLen * v, y + b * len * d + prefixOffset, w + layout.lmHead,
                            dx: dy + b * len * d + prefixOffset, dW: dW + layout.lmHead,
                            rows: c.seqLen, inFeatures: d, outFeatures: v, accumulate: true)
            let y0 = y + b * len * d, dy0 = dy + b * len * d
            for k in 0..<2 {
                let g = dQ[b * 2 + k]
                if g == 0 { continue }
                let wk = w + layout.qHeadWeight + k * d, dwk = dW + layout.qHeadWeight + k * d
                for i in 0..<d { dy0[i] += g * wk[i]; dwk[i] += g * y0[i] }
                dW[layout.qHeadBias + k] += g
            }
        }
    }
}
