/// One named tensor inside the flat parameter buffer.
package struct ParameterSpec: Sendable, Equatable {
    /// The PyTorch state-dict name (docs/formats.md, without the wrapper prefix).
    package let name: String
    package let shape: [Int]
    package let offset: Int
    /// Truncated-normal std for initialisation (0 = constant `initValue`).
    package let initStd: Double
    package let initValue: Float
    package var count: Int { shape.reduce(1, *) }
}

/// Offsets of one block's weights in the flat buffer; -1 where the block has no such tensor.
package struct BlockOffsets: Sendable {
    package var qkv = -1, o = -1            // attention mixer
    package var tokenGateUp = -1, tokenDown = -1  // mlp_t mixer
    package var gateUp = -1, down = -1      // SwiGLU over D
}

/// Where every trainable tensor lives. Weights, gradients, optimiser moments and EMA all share this
/// layout, so one offset addresses the same tensor in each buffer.
package struct ParameterLayout: Sendable {
    package private(set) var specs: [ParameterSpec] = []
    package private(set) var total = 0
    package private(set) var embedTokens = -1, lmHead = -1, qHeadWeight = -1, qHeadBias = -1
    package private(set) var embedPos = -1, timeEmb = -1
    package private(set) var blocks: [BlockOffsets] = []

    private mutating func add(_ name: String, _ shape: [Int], std: Double, value: Float = 0) -> Int {
        let spec = ParameterSpec(name: name, shape: shape, offset: total, initStd: std, initValue: value)
        specs.append(spec)
        total += spec.count
        return spec.offset
    }

    /// The trainable parameters in PyTorch's registration order; puzzle embeddings, H_init and L_init
    /// are buffers, not parameters, and are not counted (docs/model.md: The recursion).
    package init(_ c: ModelConfig) {
        let d = c.hiddenSize
        let lecun = { (fanIn: Int) in 1 / Double(fanIn).squareRoot() }
        embedTokens = add("embed_tokens.embedding_weight", [c.vocabSize, d], std: lecun(d))
        lmHead = add("lm_head.weight", [c.vocabSize, d], std: lecun(d))
        qHeadWeight = add("q_head.weight", [2, d], std: 0)
        qHeadBias = add("q_head.bias", [2], std: 0, value: -5)
        if c.posEncoding == .learned {
            embedPos = add("embed_pos.embedding_weight", [c.totalLen, d], std: lecun(d))
        }
        if c.timeEmbedding {
            timeEmb = add("timestep_embed.embedding_weight", [c.timeEmbeddingRows, d], std: lecun(d))
        }
        for i in 0..<c.numLayers {
            let p = "L_level.layers.\(i)."
            var b = BlockOffsets()
            switch c.mixer {
            case .attention:
                b.qkv = add(p + "self_attn.qkv_proj.weight", [3 * d, d], std: lecun(d))
                b.o = add(p + "self_attn.o_proj.weight", [d, d], std: lecun(d))
            case .mlpT:
                let l = c.totalLen, inner = c.tokenMixerInner
                b.tokenGateUp = add(p + "mlp_t.gate_up_proj.weight", [2 * inner, l], std: lecun(l))
                b.tokenDown = add(p + "mlp_t.down_proj.weight", [l, inner], std: lecun(inner))
            }
            b.gateUp = add(p + "mlp.gate_up_proj.weight", [2 * c.mlpInner, d], std: lecun(d))
            b.down = add(p + "mlp.down_proj.weight", [d, c.mlpInner], std: lecun(c.mlpInner))
            blocks.append(b)
        }
    }

    package func spec(named name: String) -> ParameterSpec? { specs.first { $0.name == name } }
}
