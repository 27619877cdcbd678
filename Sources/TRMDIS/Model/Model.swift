/// A TRM/DIS network's state: the trainable weights (one flat buffer laid out by `layout`), the
/// puzzle-embedding table, and the fixed H_init/L_init vectors. Batch-size-dependent state
/// (activations, carries, gradients) lives in a `Runner`.
public final class Model {
    public let config: ModelConfig
    package let layout: ParameterLayout
    private let arena = Arena()
    /// All trainable parameters, `layout.total` floats.
    public let weights: UnsafeMutablePointer<Float>
    /// [numPuzzleIdentifiers, puzzleEmbDim], zero-initialised; trained sparsely (docs/model.md: The network).
    public let puzzleEmbedding: UnsafeMutablePointer<Float>
    /// The initial y (H_init) and z (L_init), truncated normal with std 1, never trained.
    public let hInit: UnsafeMutablePointer<Float>
    public let lInit: UnsafeMutablePointer<Float>
    let rope: RoPE?
    /// How the model was trained (set by a trainer, read from and written to model files); nil for an
    /// untrained model or a file that predates the record.
    public var trainingRecord: TrainingRecord?
    /// The protocol inference follows by default: the record, or for a model without one the documented
    /// rule (`TrainingRecord.inferred`).
    public var inferenceProtocol: TrainingRecord { trainingRecord ?? .inferred(from: config) }

    /// Builds a model with freshly initialised weights; the same seed gives the same bits.
    public convenience init(config: ModelConfig, seed: UInt64 = 0) throws(TRMError) {
        try self.init(config: config, seed: seed, initialized: true)
    }

    /// With `initialized` false every buffer is zero (a loader fills them: drawing weights it will
    /// overwrite would cost minutes on a large configuration).
    init(config: ModelConfig, seed: UInt64, initialized: Bool) throws(TRMError) {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        weights = try arena.floats(layout.total)
        puzzleEmbedding = try arena.floats(config.numPuzzleIdentifiers * config.puzzleEmbDim)
        hInit = try arena.floats(config.hiddenSize)
        lInit = try arena.floats(config.hiddenSize)
        rope = config.posEncoding == .rope
            ? try RoPE(headDim: config.headDim, length: config.totalLen, theta: config.ropeTheta, arena: arena) : nil
        if initialized {
            var rng = RNG(seed: seed)
            initialize(rng: &rng)
        }
    }

    public convenience init(preset: Preset, seed: UInt64 = 0) throws(TRMError) {
        try self.init(config: preset.config, seed: seed)
    }

    private func initialize(rng: inout RNG) {
        for spec in layout.specs {
            let p = weights + spec.offset
            for i in 0..<spec.count {
                p[i] = spec.initStd > 0 ? Float(rng.truncatedNormal(std: spec.initStd)) : spec.initValue
            }
        }
        for i in 0..<config.hiddenSize { hInit[i] = Float(rng.truncatedNormal(std: 1)) }
        for i in 0..<config.hiddenSize { lInit[i] = Float(rng.truncatedNormal(std: 1)) }
    }

    /// Trainable parameters as the reference counts them (no puzzle embeddings, H_init, L_init).
    public var parameterCount: Int { layout.total }

}
