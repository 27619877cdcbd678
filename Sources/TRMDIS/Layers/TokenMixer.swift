/// The `mlp_t` token mixer (docs/model.md: The network): transpose [B, L, D] to [B, D, L], apply
/// hᵀ ← RMSNorm(hᵀ + SwiGLU_L(hᵀ)) with the norm taken over the sequence axis L, separately for each
/// channel, then transpose back. The SwiGLU_L weights are shared by all channels and examples.
struct TokenMixer {
    let batch: Int
    let length: Int
    let dModel: Int
    let swiglu: SwiGLU  // width = length
    let eps: Float
    var channelRows: Int { batch * dModel }

    struct Saved {
        let gateUp: UnsafeMutablePointer<Float>  // [B·D, 2·inner]
        let outT: UnsafeMutablePointer<Float>    // [B·D, L] normalised output, transposed layout
        let rstd: UnsafeMutablePointer<Float>    // [B·D]
    }

    /// out[B, L, D] = transpose(RMSNorm_L(xᵀ + SwiGLU_L(xᵀ))). Scratch: `xT`, `f` [B·D·L], `act`.
    /// `keepsGateUp`: false where no backward follows (`SwiGLU.forward`).
    func forward(_ x: UnsafePointer<Float>, wGateUp: UnsafePointer<Float>, wDown: UnsafePointer<Float>,
                 saved: Saved, xT: UnsafeMutablePointer<Float>, f: UnsafeMutablePointer<Float>,
                 act: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, keepsGateUp: Bool = true) {
        Kernels.transpose(x, xT, batch: batch, rows: length, cols: dModel)
        swiglu.forward(xT, wGateUp: wGateUp, wDown: wDown, gateUp: saved.gateUp, act: act, out: f, rows: channelRows,
                       keepsGateUp: keepsGateUp)
        RMSNorm.forward(adding: f, xT, into: saved.outT, rstd: saved.rstd, rows: channelRows, width: length, eps: eps)
        Kernels.transpose(saved.outT, out, batch: batch, rows: dModel, cols: length)
    }

    /// dx[B, L, D] (overwritten) from dOut[B, L, D]. `dOut` may alias `dx`.
    /// Scratch: `xT`, `dT` [B·D·L], `act`, `dGateUp`.
    func backward(_ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, wGateUp: UnsafePointer<Float>,
                  wDown: UnsafePointer<Float>, saved: Saved, dWGateUp: UnsafeMutablePointer<Float>,
                  dWDown: UnsafeMutablePointer<Float>, xT: UnsafeMutablePointer<Float>, dT: UnsafeMutablePointer<Float>,
                  act: UnsafeMutablePointer<Float>, dGateUp: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        Kernels.transpose(dOut, dT, batch: batch, rows: length, cols: dModel)
        RMSNorm.backward(dT, y: saved.outT, rstd: saved.rstd, dT, rows: channelRows, width: length)
        Kernels.transpose(x, xT, batch: batch, rows: length, cols: dModel)
        swiglu.backward(dT, x: xT, gateUp: saved.gateUp, wGateUp: wGateUp, wDown: wDown,
                        dWGateUp: dWGateUp, dWDown: dWDown, act: act, dGateUp: dGateUp, dx: dT, rows: channelRows)
        Kernels.transpose(dT, dx, batch: batch, rows: dModel, cols: length)
    }
}
