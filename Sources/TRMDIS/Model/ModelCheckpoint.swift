import FoundationEssentials

/// Model weights as safetensors under the official PyTorch state-dict names (docs/formats.md, without the
/// `_orig_mod.model.inner.` prefix), with the configuration and the training record as JSON metadata
/// (docs/formats.md), so weights move between this engine and PyTorch. Buffers travel too:
/// `puzzle_emb.weights`, `H_init`, `L_init`.
extension Model {
    public static let configMetadataKey = "trmdis_config"

    /// The model as safetensors; `weights` overrides the trainable weights (e.g. the EMA copy).
    package func safeTensors(weights override: UnsafePointer<Float>? = nil) -> SafeTensors {
        var st = SafeTensors()
        for t in namedTensors {
            var source = UnsafePointer(t.values.baseAddress!)
            if let override, let spec = layout.spec(named: t.name) { source = override + spec.offset }
            st.add(t.name, floats: source, shape: t.shape)
        }
        st.metadata = ["format": "pt", Model.configMetadataKey: config.jsonString]
        if let trainingRecord { st.metadata[TrainingRecord.metadataKey] = trainingRecord.jsonString }
        return st
    }

    /// Writes the model atomically.
    public func save(to path: String, weights override: UnsafePointer<Float>? = nil) throws(TRMError) {
        try safeTensors(weights: override).write(to: path)
    }

    /// Loads a model written by `save` (or converted from PyTorch): the configuration from the metadata,
    /// then every tensor, checked by name, shape and dtype. Unknown or missing tensors are errors.
    /// A trainer's `state.safetensors` loads too, as its raw weights (model.safetensors beside it holds the
    /// EMA copy when EMA is on): so one run answers both "with EMA" and "without".
    public static func load(from path: String) throws(TRMError) -> Model {
        var st = try SafeTensors.load(path)
        if st.tensors.contains(where: { $0.0 == "optimizer.m" }) { st.dropTrainerTensors() }
        return try load(st, config: try storedConfig(st, file: path), file: path)
    }

    /// The configuration in a model file's metadata, read before anything is allocated for it.
    static func storedConfig(_ st: SafeTensors, file: String) throws(TRMError) -> ModelConfig {
        guard let json = st.metadata[configMetadataKey] else {
            throw .format("\(file): no '\(configMetadataKey)' metadata; it was not written by libtrmdis or its converter")
        }
        return try ModelConfig(json: json, file: file)
    }

    /// The model of a read file whose configuration is `config` (from `storedConfig`), with its training
    /// record when the file has one.
    static func load(_ st: SafeTensors, config: ModelConfig, file: String) throws(TRMError) -> Model {
        var st = st
        st.renameLegacyTimeTable()
        // Every tensor is checked by name and shape before the model is allocated: a small file whose
        // configuration asks for gigabytes is refused at once.
        try checkTensors(st, config: config, file: file)
        let model = try Model(config: config, seed: 0, initialized: false)
        try model.loadTensors(st, file: file)
        if let json = st.metadata[TrainingRecord.metadataKey] {
            model.trainingRecord = try TrainingRecord(json: json, file: file, model: config)
        }
        return model
    }

    /// The tensors a model of `config` holds, with their shapes: the layout's, the puzzle table, H_init, L_init.
    static func expectedTensors(_ config: ModelConfig) -> [String: [Int]] {
        var expected: [String: [Int]] = [:]
        for spec in ParameterLayout(config).specs { expected[spec.name] = spec.shape }
        expected["H_init"] = [config.hiddenSize]
        expected["L_init"] = [config.hiddenSize]
        if config.puzzleEmbLen > 0 { expected["puzzle_emb.weights"] = [config.numPuzzleIdentifiers, config.puzzleEmbDim] }
        return expected
    }

    /// Checks that `st` holds exactly the tensors of a model of `config`, each float32 of the right shape.
    static func checkTensors(_ st: SafeTensors, config: ModelConfig, file: String) throws(TRMError) {
        let expected = expectedTensors(config)
        let present = Set(st.tensors.map(\.name))
        if let extra = present.subtracting(expected.keys).sorted().first {
            throw .format("\(file): unexpected tensor '\(extra)' for this configuration")
        }
        if let missing = Set(expected.keys).subtracting(present).sorted().first {
            throw .format("\(file): missing tensor '\(missing)'")
        }
        for (name, tensor) in st.tensors {
            guard tensor.dtype == .f32 else { throw .format("\(file): tensor '\(name)' is \(tensor.dtype.rawValue), expected F32") }
            guard tensor.shape == expected[name] else {
                throw .format("\(file): tensor '\(name)' has shape \(tensor.shape), expected \(expected[name]!)")
            }
        }
    }

    /// Copies the tensors of `st` into this model after checking that the names are exactly the model's
    /// and every value is finite.
    package func loadTensors(_ st: SafeTensors, file: String) throws(TRMError) {
        try Model.checkTensors(st, config: config, file: file)
        for t in namedTensors {
            try st.read(t.name, into: t.values.baseAddress!, shape: t.shape, file: file)
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
                throw .format("\(file): tensor '\(t.name)' holds a value that is not finite (element \(bad))")
            }
        }
    }
}

extension SafeTensors {
    /// Files written before 0.4 name the DIS time table `time_emb.embedding_weight`; it is now the official
    /// DIS code's `timestep_embed.embedding_weight`. The old name still loads.
    mutating func renameLegacyTimeTable() {
        guard !tensors.contains(where: { $0.name == "timestep_embed.embedding_weight" }),
              let i = tensors.firstIndex(where: { $0.name == Model.legacyTimeTableName }) else { return }
        tensors[i].name = "timestep_embed.embedding_weight"
    }
}

extension ModelConfig {
    public var jsonString: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public init(json: String, file: String = "configuration") throws(TRMError) {
        do {
            self = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        } catch {
            throw .format("\(file): bad model configuration JSON (\(error))")
        }
        do { try validate() } catch { throw .format("\(file): impossible model configuration: \(error)") }
    }
}
