#if canImport(Glibc)
import Glibc
#endif

/// Checkpoints of the official TRM and DIS PyTorch code, both ways (docs/pytorch.md).
extension Model {
    /// The name official runs give their configuration, beside each checkpoint.
    public static let officialConfigName = "all_config.yaml"
    /// The prefix of every key in a checkpoint of the official code (torch.compile's, then the loss head's
    /// and the ACT wrapper's).
    public static let officialPrefix = "_orig_mod.model.inner."

    /// Imports a checkpoint of the official code: `checkpoint` is what its pretrain.py saves (a torch.save
    /// file named like `step_65104`) or the same state dict as safetensors, in float32, bfloat16 or float16;
    /// keys with or without `_orig_mod.`. `config` is the run's all_config.yaml (by default the one beside
    /// the checkpoint): it gives T, n, N_sup, heads, expansion and positions; the tensors give the rest.
    /// `seqLen` is needed only for an attention model whose run dataset cannot be found. Returns the model
    /// and notes on what was converted. Without a training record, inference follows the documented rule
    /// (a time table means DIS).
    public static func importOfficial(checkpoint: String, config: String? = nil, seqLen: Int? = nil) throws(TRMError)
        -> (model: Model, notes: [String]) {
        if let seqLen, !(1...1 << 20).contains(seqLen) { throw .invalidArgument("seq_len must be in 1...2^20 (got \(seqLen))") }
        let configPath = config ?? splitPath(checkpoint).0 + "/" + officialConfigName
        guard config != nil || access(configPath, F_OK) == 0 else {
            throw .io("no \(officialConfigName) beside \(checkpoint): give the run's configuration file (it holds "
                + "H_cycles and L_cycles, which the weights cannot show)")
        }
        let run = try OfficialConfig(path: configPath)
        var notes: [String] = []
        let tensors = try OfficialCheckpoint.read(checkpoint, notes: &notes)
        let shapes = Dictionary(tensors.tensors.map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { a, _ in a })
        let modelConfig = try run.modelConfig(tensors: shapes, seqLen: seqLen, notes: &notes)
        let model = try Model.load(tensors, config: modelConfig, file: checkpoint)
        return (model, notes)
    }

    /// Writes the model as the official code's state dict, float32 with `_orig_mod.model.inner.` keys: a
    /// `torch.save` archive that the official code's `torch.load` reads (a path like `step_0`), or
    /// safetensors when `path` ends in `.safetensors` (`safetensors.torch.load_file`); and the `arch`
    /// section of an all_config.yaml at `config` (default: all_config.yaml beside `path`, which must not
    /// exist yet).
    public func exportOfficial(to path: String, config: String? = nil) throws(TRMError) {
        let configPath = config ?? splitPath(path).0 + "/" + Model.officialConfigName
        if config == nil && access(configPath, F_OK) == 0 {
            throw .io("\(configPath) exists; give the configuration's path explicitly to replace it")
        }
        if path.hasSuffix(".safetensors") {
            var st = SafeTensors()
            for t in namedTensors { st.add(Model.officialPrefix + t.name, floats: t.values.baseAddress!, shape: t.shape) }
            st.metadata = ["format": "pt"]
            try st.write(to: path)
        } else {
            let tensors = namedTensors.map { (Model.officialPrefix + $0.name, $0.shape, UnsafeBufferPointer($0.values)) }
            try writeFileAtomically(path, try TorchSave.encode(tensors, archive: Model.archiveName(path)))
        }
        try writeFileAtomically(configPath, Array(officialConfigYAML.utf8))
    }

    /// The archive's top folder: the file's name without its extension, as torch.save names it.
    static func archiveName(_ path: String) -> String {
        let base = splitPath(path).1
        let stem = base.split(separator: ".").first.map(String.init) ?? ""
        let clean = stem.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        return clean.isEmpty ? "archive" : clean
    }

    /// The arch section of an official all_config.yaml for this model, plus what the data must match.
    var officialConfigYAML: String {
        let c = config
        let name = "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"
        var lines = [
            "# The architecture of a libtrmdis model in the official TRM code's terms (the arch section of its",
            "# all_config.yaml). The rest of a run's configuration (data_paths, lr, ...) is the training's own.",
            "# The dataset must have seq_len \(c.seqLen), vocab_size \(c.vocabSize) and num_puzzle_identifiers "
                + "\(c.numPuzzleIdentifiers).",
            "arch:",
            "  H_cycles: \(c.hCycles)",
            "  H_layers: 0",
            "  L_cycles: \(c.lCycles)",
            "  L_layers: \(c.numLayers)",
            "  expansion: \(yamlFloat(c.expansion))",
            "  forward_dtype: float32",
            "  halt_exploration_prob: 0.1",
            "  halt_max_steps: \(c.supervisionSteps)",
            "  hidden_size: \(c.hiddenSize)",
            "  loss:",
            "    loss_type: stablemax_cross_entropy",
            "    name: losses@ACTLossHead",
            "  mlp_t: \(c.mixer == .mlpT)",
            "  name: \(name)",
            "  no_ACT_continue: true",
            "  num_heads: \(c.numHeads)",
            "  pos_encodings: \(c.posEncoding.rawValue)",
            "  puzzle_emb_len: \(c.puzzleEmbLen)",
            "  puzzle_emb_ndim: \(c.puzzleEmbDim)",
            "  rms_norm_eps: \(yamlFloat(Double(c.rmsNormEps)))",
            "  rope_theta: \(yamlFloat(c.ropeTheta))",
        ]
        if c.timeEmbedding { lines.insert("# The time table (timestep_embed) is the official DIS code's: train and run it there.", at: 3) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A float as YAML 1.1 (PyYAML) reads it back as a float: with a dot before any exponent ("1.0e-05").
    /// Float-sized values print as their shortest float form (1e-05, not 9.99999974e-06).
    func yamlFloat(_ x: Double) -> String {
        var text = Float(exactly: x) != nil ? "\(Float(x))" : "\(x)"
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") { text.insert(contentsOf: ".0", at: e) }
        return text
    }
}
