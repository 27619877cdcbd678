/// One post-norm block (docs/model.md: The network): h ← RMSNorm(h + Mixer(h)); h ← RMSNorm(h + SwiGLU(h)). The mixer
/// is attention, or the `mlp_t` token mixer, which applies its own sequence-axis norm and residual.
struct Block {
    /// Activations one block keeps for backward.
    struct Saved {
        var attention: Attention.Saved?
        var tokenMixer: TokenMixer.Saved?
        let mid: UnsafeMutablePointer<Float>     // [rows, D] output of the mixer sub-layer
        let rstdMid: UnsafeMutablePointer<Float> // [rows] (attention only)
        let gateUp: UnsafeMutablePointer<Float>  // [rows, 2·inner]
        let out: UnsafeMutablePointer<Float>     // [rows, D] block output
        let rstdOut: UnsafeMutablePointer<Float> // [rows]

        init(_ s: Block.Shapes, arena: Arena) throws(TRMError) {
            let rows = s.rows, d = s.dModel
            if let a = s.attention {
                attention = Attention.Saved(qkv: try arena.floats(rows * 3 * d),
                                            probs: try arena.floats(s.batch * a.heads * s.length * s.length),
                                            context: try arena.floats(rows * d))
            }
            if let t = s.tokenMixer {
                tokenMixer = TokenMixer.Saved(gateUp: try arena.floats(t.channelRows * 2 * t.swiglu.inner),
                                              outT: try arena.floats(rows * d), rstd: try arena.floats(t.channelRows))
            }
            mid = try arena.floats(rows * d)
            rstdMid = try arena.floats(s.attention != nil ? rows : 0)
            gateUp = try arena.floats(rows * 2 * s.mlp.inner)
            out = try arena.floats(rows * d)
            rstdOut = try arena.floats(rows)
        }
    }

    /// Buffers shared by all blocks; their contents never outlive one block's forward or backward.
    /// The sub-layer outputs need none: forward writes them into `mid` and `out`, and attention's backward
    /// writes dContext over the block's saved `out`, dead once the output norm's backward has read it.
    struct Scratch {
        let xT, dT, act, dProbs: UnsafeMutablePointer<Float>
        let dProbsSlots: Int

        init(_ s: Block.Shapes, arena: Arena) throws(TRMError) {
            let rows = s.rows, d = s.dModel
            xT = try arena.floats(s.tokenMixer != nil ? rows * d : 0)
            dT = try arena.floats(s.tokenMixer != nil ? rows * d : 0)
            let tokenAct = s.tokenMixer.map { $0.swiglu.actScratch(rows: $0.channelRows) } ?? 0
            act = try arena.floats(max(s.mlp.actScratch(rows: rows), tokenAct))
            dProbsSlots = Threads.count
            // Per slot: dP, and dK while the in-place backward still needs Q (Attention.backward).
            let slots = dProbsSlots, length = s.length
            dProbs = try arena.floats(s.attention.map { slots * length * (length + $0.headDim) } ?? 0)
        }
    }

    /// The shapes every block of a model shares.
    struct Shapes {
        let batch, length, dModel: Int
        let attention: Attention?
        let tokenMixer: TokenMixer?
        let mlp: SwiGLU
        let eps: Float
        var rows: Int { batch * length }

        init(_ c: ModelConfig, batch: Int) {
            self.batch = batch
            length = c.totalLen
            dModel = c.hiddenSize
            eps = c.rmsNormEps
            mlp = SwiGLU(width: c.hiddenSize, inner: c.mlpInner)
            switch c.mixer {
            case .attention:
                attention = Attention(batch: batch, length: c.totalLen, heads: c.numHeads, headDim: c.headDim)
                tokenMixer = nil
            case .mlpT:
                attention = nil
                tokenMixer = TokenMixer(batch: batch, length: c.totalLen, dModel: c.hiddenSize,
                                        swiglu: SwiGLU(width: c.totalLen, inner: c.tokenMixerInner), eps: c.rmsNormEps)
            }
        }
    }

    let shapes: Shapes
    let offsets: BlockOffsets

    /// saved.out = block(x). `x` may be `saved.out` itself (the no-gradient path reuses one Saved). `panels`: the
    /// weights' copy in the engine's panels (`Runner.withPackedWeights`; the channel products), or nil.
    /// `keepsGraph`: false where no backward follows, so a layer may skip what only the backward reads (a narrow
    /// SwiGLU's gate_up: `SwiGLU.forward`); `saved` then holds only `out`.
    func forward(_ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, rope: RoPE?, saved: Saved, scratch: Scratch,
                 panels p: UnsafePointer<Float>? = nil, keepsGraph: Bool = true) {
        let s = shapes, rows = s.rows, d = s.dModel
        // Each sub-layer writes its output where the norm then puts the block's value, and the residual
        // sum is formed there in place; x is read for the last time by the mixer sub-layer's norm, so
        // `saved.out` may be x.
        if let attention = s.attention {
            attention.forward(x, wQKV: w + offsets.qkv, wO: w + offsets.o, rope: rope,
                              saved: saved.attention!, out: saved.mid,
                              panels: p.map { (qkv: $0 + offsets.qkv, o: $0 + offsets.o) })
            RMSNorm.forward(adding: x, saved.mid, into: saved.mid, rstd: saved.rstdMid, rows: rows, width: d, eps: s.eps)
        } else if let mixer = s.tokenMixer {
            mixer.forward(x, wGateUp: w + offsets.tokenGateUp, wDown: w + offsets.tokenDown, saved: saved.tokenMixer!,
                          xT: scratch.xT, f: scratch.dT, act: scratch.act, out: saved.mid, keepsGateUp: keepsGraph)
        }
        s.mlp.forward(saved.mid, wGateUp: w + offsets.gateUp, wDown: w + offsets.down, gateUp: saved.gateUp,
                      act: scratch.act, out: saved.out, rows: rows,
                      panels: p.map { (gateUp: $0 + offsets.gateUp, down: $0 + offsets.down) }, keepsGateUp: keepsGraph)
        RMSNorm.forward(adding: saved.out, saved.mid, into: saved.out, rstd: saved.rstdOut, rows: rows, width: d, eps: s.eps)
    }

    /// Turns d (the gradient of the block's output) into the gradient of its input `x`, in place, and
    /// accumulates the weight gradients into `dW` (same layout as the weights). Consumes `saved`: the
    /// SwiGLU pre-activations, the qkv and the output are overwritten, so run it once per forward. `panels`: W_o
    /// and W_down in the engine's panels as B (`Runner.forward`, a training step on AVX-512), or nil.
    func backward(_ d: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                  dW: UnsafeMutablePointer<Float>, rope: RoPE?, saved: Saved, scratch: Scratch,
                  panels: (o: UnsafePointer<Float>?, down: UnsafePointer<Float>)? = nil) {
        let s = shapes, rows = s.rows, width = s.dModel
        RMSNorm.backward(d, y: saved.out, rstd: saved.rstdOut, d, rows: rows, width: width)
        // The gradient of the pre-activation overwrites the saved one (backward runs once per forward).
        s.mlp.backward(d, x: saved.mid, gateUp: saved.gateUp, wGateUp: w + offsets.gateUp, wDown: w + offsets.down,
                       dWGateUp: dW + offsets.gateUp, dWDown: dW + offsets.down,
                       act: scratch.act, dGateUp: saved.gateUp, dx: d, rows: rows, downPanels: panels?.down)
        if let attention = s.attention {
            RMSNorm.backward(d, y: saved.mid, rstd: saved.rstdMid, d, rows: rows, width: width)
            // The qkv gradient overwrites the saved qkv, as the SwiGLU one does the pre-activation.
            attention.backward(d, x: x, wQKV: w + offsets.qkv, wO: w + offsets.o, rope: rope, saved: saved.attention!,
                               dWQKV: dW + offsets.qkv, dWO: dW + offsets.o, dContext: saved.out,
                               dQKV: saved.attention!.qkv, dProbs: scratch.dProbs, dProbsSlots: scratch.dProbsSlots, dx: d,
                               oPanels: panels?.o)
        } else if let mixer = s.tokenMixer {
            mixer.backward(d, x: x, wGateUp: w + offsets.tokenGateUp, wDown: w + offsets.tokenDown,
                           saved: saved.tokenMixer!, dWGateUp: dW + offsets.tokenGateUp, dWDown: dW + offsets.tokenDown,
                           xT: scratch.xT, dT: scratch.dT, act: scratch.act, dGateUp: saved.tokenMixer!.gateUp, dx: d)
        }
    }
}
