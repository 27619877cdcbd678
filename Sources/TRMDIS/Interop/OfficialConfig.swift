/// The `arch` section of an official run's `all_config.yaml` (docs/pytorch.md), and the model
/// configuration it means together with a checkpoint's tensor shapes.
package struct OfficialConfig {
    package let file: String
    package let arch: JSONValue
    /// `data_paths` (or HRM's `data_path`): where the run's dataset was, relative to its working directory.
    package let dataPaths: [String]

    /// Keys whose defaults are the official config/arch/trm.yaml's when the file does not set them.
    static let defaults: [String: JSONValue] = [
        "num_heads": .integer(8), "expansion": .integer(4), "halt_max_steps": .integer(16), "puzzle_emb_len": .integer(16),
        "pos_encodings": .string("rope"), "mlp_t": .bool(false), "rope_theta": .integer(10_000),
        "rms_norm_eps": .number(1e-5),
    ]

    package init(path: String) throws(TRMError) {
        let bytes = try readFile(path)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .format("\(path): not UTF-8 text") }
        try self.init(yaml: YAMLSubset.parse(text, file: path), file: path)
    }

    package init(yaml: JSONValue, file: String) throws(TRMError) {
        self.file = file
        guard case .object = yaml, let arch = yaml["arch"], case .object = arch else {
            throw .format("\(file): no 'arch' mapping; expected the all_config.yaml an official training run writes")
        }
        self.arch = arch
        var paths: [String] = []
        if case .array(let items)? = yaml["data_paths"] {
            for case .string(let p) in items { paths.append(p) }
        } else if case .string(let p)? = yaml["data_path"] {
            paths = [p]
        }
        dataPaths = paths
    }

    // MARK: Typed fields

    func value(_ key: String) -> JSONValue? { arch[key] ?? OfficialConfig.defaults[key] }

    func int(_ key: String) throws(TRMError) -> Int? {
        switch value(key) {
        case nil, .null?: return nil
        case .integer(let i)?: return i
        case let other?: throw .format("\(file): arch.\(key) must be an integer, found \(other.kind)")
        }
    }

    func required(_ key: String, _ why: String) throws(TRMError) -> Int {
        guard let v = try int(key) else { throw .format("\(file): arch.\(key) is missing (\(why))") }
        return v
    }

    func double(_ key: String) throws(TRMError) -> Double? {
        switch value(key) {
        case nil, .null?: return nil
        case .integer(let i)?: return Double(i)
        case .number(let d)?: return d
        case let other?: throw .format("\(file): arch.\(key) must be a number, found \(other.kind)")
        }
    }

    func string(_ key: String) throws(TRMError) -> String? {
        switch value(key) {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw .format("\(file): arch.\(key) must be a string, found \(other.kind)")
        }
    }

    func bool(_ key: String) throws(TRMError) -> Bool? {
        switch value(key) {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?: throw .format("\(file): arch.\(key) must be true or false, found \(other.kind)")
        }
    }

    // MARK: The model configuration

    /// The configuration of the model whose tensors (normalised names) are `tensors`. The file gives the
    /// recursion and what the shapes cannot show; the shapes give vocabulary, widths and tables, and are
    /// checked against the file where both speak. `seqLen` is needed only where neither the weights (mlp_t,
    /// learned positions) nor the run's dataset.json (found through data_paths) tell it.
    package func modelConfig(tensors: [String: [Int]], seqLen: Int?, notes: inout [String]) throws(TRMError) -> ModelConfig {
        try checkArchitecture(notes: &notes)
        func shape(_ name: String) throws(TRMError) -> [Int] {
            guard let s = tensors[name] else { throw .format("the checkpoint has no \(name): not a TRM/DIS model state dict") }
            return s
        }
        func agree(_ key: String, _ fromFile: Int?, _ fromWeights: Int) throws(TRMError) {
            if let fromFile, fromFile != fromWeights {
                throw .format("\(file): arch.\(key) is \(fromFile), the checkpoint's tensors say \(fromWeights)")
            }
        }
        let embed = try shape("embed_tokens.embedding_weight")
        guard embed.count == 2 else { throw .format("embed_tokens.embedding_weight must be 2-D, is \(embed)") }
        let (vocab, d) = (embed[0], embed[1])
        try agree("hidden_size", try int("hidden_size"), d)

        let layerIndices = Set(tensors.keys.compactMap { name -> Int? in
            guard name.hasPrefix("L_level.layers.") else { return nil }
            return Int(name.dropFirst("L_level.layers.".count).prefix { $0.isNumber })
        })
        let layers = layerIndices.count
        guard layers > 0, layerIndices == Set(0..<layers) else {
            throw .format("the checkpoint's L_level.layers indices must be 0...L-1, found \(layerIndices.sorted())")
        }
        try agree("L_layers", try int("L_layers"), layers)

        let mlpT = tensors["L_level.layers.0.mlp_t.gate_up_proj.weight"] != nil
        if let fileMlpT = try bool("mlp_t"), fileMlpT != mlpT {
            throw .format("\(file): arch.mlp_t is \(fileMlpT), but the checkpoint \(mlpT ? "has" : "has no") mlp_t weights")
        }

        // The puzzle prefix: puzzle_emb_len 0 means ceil(puzzle_emb_ndim / hidden_size), as the official code.
        var table = [0, 0]
        if let t = tensors["puzzle_emb.weights"] {
            guard t.count == 2 else { throw .format("puzzle_emb.weights must be 2-D, is \(t)") }
            table = t
        }
        try agree("puzzle_emb_ndim", try int("puzzle_emb_ndim"), table[1])
        var prefix = try int("puzzle_emb_len") ?? 16
        if prefix == 0 { prefix = (table[1] + d - 1) / d }
        if table[1] == 0 {
            if prefix != 0 { notes.append("no puzzle embedding (puzzle_emb_ndim 0): no prefix positions") }
            prefix = 0
        }

        guard let pos = PositionEncoding(rawValue: try string("pos_encodings") ?? "rope") else {
            throw .format("\(file): arch.pos_encodings must be rope, learned or none")
        }
        if (pos == .learned) != (tensors["embed_pos.embedding_weight"] != nil) {
            throw .format("\(file): arch.pos_encodings is \(pos.rawValue), but the checkpoint "
                + "\(pos == .learned ? "has no" : "has an") embed_pos.embedding_weight")
        }

        // The sequence length: from the weights where they show it, else from the run's dataset.
        var total: Int? = nil
        if pos == .learned { total = try shape("embed_pos.embedding_weight")[0] }
        if mlpT { total = try shape("L_level.layers.0.mlp_t.gate_up_proj.weight").last }
        var seq: Int
        if let total {
            seq = total - prefix
            if let seqLen, seqLen != seq { throw .invalidArgument("seq_len \(seqLen) given, but the weights say \(seq) (+ \(prefix) prefix)") }
        } else if let seqLen {
            seq = seqLen
        } else if let fromData = try datasetSeqLen(vocab: vocab, notes: &notes) {
            seq = fromData
        } else {
            throw .invalidArgument("the sequence length is not in the weights of an attention model with \(pos.rawValue) positions, "
                + "and the run's dataset (data_paths) was not found: give the sequence length (seq_len; --seq-len in the CLI): 81 for Sudoku, 900 for Maze and ARC")
        }

        let steps = try required("halt_max_steps", "N_sup")
        var timeTable = false
        if let t = tensors["timestep_embed.embedding_weight"] {
            timeTable = true
            guard t.count == 2, t[0] == steps + 2 else {
                throw .format("the time table has \(t.first ?? 0) rows; a run with arch.halt_max_steps \(steps) has \(steps + 2)")
            }
        }
        let config = ModelConfig(
            vocabSize: vocab, seqLen: seq, puzzleEmbLen: prefix, puzzleEmbDim: table[1],
            numPuzzleIdentifiers: prefix > 0 ? table[0] : 1, hiddenSize: d,
            numHeads: try required("num_heads", "attention heads"), expansion: try double("expansion") ?? 4, numLayers: layers,
            mixer: mlpT ? .mlpT : .attention, posEncoding: pos, ropeTheta: try double("rope_theta") ?? 10_000,
            rmsNormEps: Float(try double("rms_norm_eps") ?? 1e-5),
            hCycles: try required("H_cycles", "T: the official recipes use 3"),
            lCycles: try required("L_cycles", "n: the official recipes use 6 for Sudoku and 4 for Maze and ARC"),
            supervisionSteps: steps, timeEmbedding: timeTable)
        do { try config.validate() } catch { throw .format("\(file) and the checkpoint describe a model this engine cannot build: \(error)") }
        return config
    }

    /// Refuses architectures other than TRM (HRM, the paper's ablations) and notes what is not kept.
    func checkArchitecture(notes: inout [String]) throws(TRMError) {
        let name = try string("name") ?? ""
        let refused = [("hrm", "HRM"), ("singlez", "TRM with a single z"), ("hier", "TRM with several z"),
                       ("transformers_baseline", "the Transformer baseline")]
        if let (_, what) = refused.first(where: { name.lowercased().contains($0.0) }) {
            throw .format("\(file): arch.name \(name) is \(what), not a TRM/DIS model this engine runs")
        }
        if !name.isEmpty && !name.contains("trm") {
            notes.append("arch.name \(name) is not the official TRM's; the weights decide whether it loads")
        }
        if let dtype = try string("forward_dtype"), dtype != "float32" {
            notes.append("trained in \(dtype); this engine computes in float32 (rare near-ties may decode differently)")
        }
        if let layers = try int("H_layers"), layers != 0 { notes.append("arch.H_layers \(layers) is ignored, as TRM does") }
    }

    /// seq_len from the run's dataset.json, where data_paths still resolves: absolute, relative to the
    /// working directory, or relative to a folder above the configuration file (official runs keep
    /// `checkpoints/<project>/<run>/all_config.yaml` beside `data/` at the root they ran from); its
    /// vocab_size must match the checkpoint's.
    func datasetSeqLen(vocab: Int, notes: inout [String]) throws(TRMError) -> Int? {
        var roots = [""]
        var folder = splitPath(file).0
        for _ in 0..<4 {
            roots.append(folder + "/")
            folder = splitPath(folder).0
        }
        let candidates = dataPaths.flatMap { base in base.hasPrefix("/") ? [base] : roots.map { $0 + base } }
        for base in candidates {
            for split in ["train", "test"] {
                let path = base + "/" + split + "/dataset.json"
                guard let bytes = try? readFile(path) else { continue }
                let json = try JSONValue.parse(bytes, file: path)
                guard case .integer(let seq)? = json["seq_len"], seq > 0 else { throw .format("\(path): no positive seq_len") }
                if case .integer(let v)? = json["vocab_size"], v != vocab {
                    throw .format("\(path): vocab_size \(v), but the checkpoint's token table has \(vocab) rows")
                }
                notes.append("seq_len \(seq) from \(path)")
                return seq
            }
        }
        return nil
    }
}
