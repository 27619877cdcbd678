import CTRMDIS
import TRMDIS

/// sizeof(trm_model_config) as this library's header knows it; the only struct_size accepted.
let modelConfigSize = MemoryLayout<trm_model_config>.size

func checkStructSize(_ size: Int, _ what: String) throws(Failure) {
    try checkSize(size, modelConfigSize, what, "trm_model_config")
}

extension trm_model_config {
    /// The C mirror of `c`, struct_size set.
    init(_ c: ModelConfig) {
        self.init()
        struct_size = modelConfigSize
        vocab_size = Int32(clamping: c.vocabSize)
        seq_len = Int32(clamping: c.seqLen)
        puzzle_emb_len = Int32(clamping: c.puzzleEmbLen)
        puzzle_emb_ndim = Int32(clamping: c.puzzleEmbDim)
        num_puzzle_identifiers = Int32(clamping: c.numPuzzleIdentifiers)
        hidden_size = Int32(clamping: c.hiddenSize)
        num_heads = Int32(clamping: c.numHeads)
        expansion = Float(c.expansion)
        num_layers = Int32(clamping: c.numLayers)
        switch c.mixer {
        case .attention: mixer = Int32(bitPattern: TRM_MIXER_ATTENTION.rawValue)
        case .mlpT: mixer = Int32(bitPattern: TRM_MIXER_MLP_T.rawValue)
        }
        switch c.posEncoding {
        case .rope: pos_encoding = Int32(bitPattern: TRM_POS_ROPE.rawValue)
        case .learned: pos_encoding = Int32(bitPattern: TRM_POS_LEARNED.rawValue)
        case .none: pos_encoding = Int32(bitPattern: TRM_POS_NONE.rawValue)
        }
        rope_theta = Float(c.ropeTheta)
        rms_norm_eps = c.rmsNormEps
        h_cycles = Int32(clamping: c.hCycles)
        l_cycles = Int32(clamping: c.lCycles)
        supervision_steps = Int32(clamping: c.supervisionSteps)
        time_embedding = c.timeEmbedding ? 1 : 0
    }
}

/// The engine's config for a caller's struct: struct_size, enums, flags and floats checked here,
/// then every shape by ModelConfig.validate().
func modelConfig(from c: trm_model_config) throws(Failure) -> ModelConfig {
    try checkStructSize(c.struct_size, "config")
    let mixer: Mixer
    switch c.mixer {
    case Int32(bitPattern: TRM_MIXER_ATTENTION.rawValue): mixer = .attention
    case Int32(bitPattern: TRM_MIXER_MLP_T.rawValue): mixer = .mlpT
    default: throw .invalid("config.mixer must be TRM_MIXER_ATTENTION or TRM_MIXER_MLP_T (got \(c.mixer))")
    }
    let pos: PositionEncoding
    switch c.pos_encoding {
    case Int32(bitPattern: TRM_POS_ROPE.rawValue): pos = .rope
    case Int32(bitPattern: TRM_POS_LEARNED.rawValue): pos = .learned
    case Int32(bitPattern: TRM_POS_NONE.rawValue): pos = .none
    default: throw .invalid("config.pos_encoding must be a trm_pos_encoding (got \(c.pos_encoding))")
    }
    guard c.time_embedding == 0 || c.time_embedding == 1 else {
        throw .invalid("config.time_embedding must be 0 or 1 (got \(c.time_embedding))")
    }
    for (name, value) in [("expansion", c.expansion), ("rope_theta", c.rope_theta), ("rms_norm_eps", c.rms_norm_eps)]
    where !value.isFinite {
        throw .invalid("config.\(name) must be finite (got \(value))")
    }
    let config = ModelConfig(
        vocabSize: Int(c.vocab_size), seqLen: Int(c.seq_len), puzzleEmbLen: Int(c.puzzle_emb_len),
        puzzleEmbDim: Int(c.puzzle_emb_ndim), numPuzzleIdentifiers: Int(c.num_puzzle_identifiers),
        hiddenSize: Int(c.hidden_size), numHeads: Int(c.num_heads), expansion: Double(c.expansion),
        numLayers: Int(c.num_layers), mixer: mixer, posEncoding: pos, ropeTheta: Double(c.rope_theta),
        rmsNormEps: c.rms_norm_eps, hCycles: Int(c.h_cycles), lCycles: Int(c.l_cycles),
        supervisionSteps: Int(c.supervision_steps), timeEmbedding: c.time_embedding == 1)
    do throws(TRMError) {
        try config.validate()
    } catch {
        guard case .invalidArgument(let message) = error else { throw Failure(error) }
        throw .invalid("config: " + cFieldNames(message))
    }
    return config
}

/// The engine's messages name ModelConfig's Swift properties; a C caller knows the struct's fields.
private let cNames: [Substring: String] = [
    "vocabSize": "vocab_size", "seqLen": "seq_len", "puzzleEmbLen": "puzzle_emb_len",
    "puzzleEmbDim": "puzzle_emb_ndim", "numPuzzleIdentifiers": "num_puzzle_identifiers",
    "hiddenSize": "hidden_size", "numHeads": "num_heads", "numLayers": "num_layers", "ropeTheta": "rope_theta",
    "rmsNormEps": "rms_norm_eps", "hCycles": "h_cycles", "lCycles": "l_cycles",
    "supervisionSteps": "supervision_steps",
]

private func cFieldNames(_ message: String) -> String {
    var result = "", word = Substring()
    var start = message.startIndex
    for i in message.indices {
        if message[i].isLetter || message[i].isNumber { continue }
        word = message[start..<i]
        result += cNames[word] ?? String(word)
        result.append(message[i])
        start = message.index(after: i)
    }
    word = message[start...]
    return result + (cNames[word] ?? String(word))
}
