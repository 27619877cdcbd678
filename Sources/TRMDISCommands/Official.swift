import ArgumentParser
import TRMDIS

/// `trmdis import-official`: a checkpoint of the official TRM/DIS PyTorch code to a model file.
struct ImportOfficial: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-official",
        abstract: "Convert a checkpoint of the official TRM or DIS PyTorch code into a model file.",
        discussion: """
            CHECKPOINT is what the official pretrain.py saves (a torch.save file such as step_65104, read without \
            PyTorch) or the same state dict as safetensors; float32, bfloat16 or float16. The run's all_config.yaml \
            (by default the one beside the checkpoint) gives T, n, N_sup, heads, expansion and positions; the \
            tensors give the rest. See docs/pytorch.md.
            """)
    @Argument(help: "The official checkpoint.") var checkpoint: String
    @Option(help: "The run's all_config.yaml (default: the one beside the checkpoint).") var config: String?
    @Option(help: "Tokens per example, for an attention model whose run dataset is not found (81 Sudoku, 900 Maze/ARC).")
    var seqLen: Int?
    @Option(help: "Output model file (safetensors).") var out: String

    func validate() throws {
        if let seqLen, seqLen < 1 { throw ValidationError("--seq-len must be at least 1") }
    }

    func run() throws {
        let (model, notes) = try Model.importOfficial(checkpoint: checkpoint, config: config, seqLen: seqLen)
        for note in notes { print("note: \(note)") }
        try model.save(to: out)
        let c = model.config
        print("wrote \(out): \(model.parameterCount) parameters; \(c.mixer.rawValue), D \(c.hiddenSize), \(c.numLayers) layer(s), "
            + "T \(c.hCycles), n \(c.lCycles), N_sup \(c.supervisionSteps), seq_len \(c.seqLen), vocab \(c.vocabSize); "
            + "inference: \(model.inferenceProtocol.method.rawValue)")
    }
}

/// `trmdis export-official`: a model file to the official code's state dict and arch configuration.
struct ExportOfficial: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-official",
        abstract: "Write a model file as the official TRM code's state dict and all_config.yaml arch section.")
    @Argument(help: "The model file.") var model: String
    @Option(help: "Output state dict, keys _orig_mod.model.inner.*: a torch.save archive (e.g. step_0), or safetensors if it ends in .safetensors.") var out: String
    @Option(help: "Output configuration (default: all_config.yaml beside --out, which must not exist).") var config: String?

    func run() throws {
        let m = try Model.load(from: model)
        try m.exportOfficial(to: out, config: config)
        print("wrote \(out) and \(config ?? "all_config.yaml beside it")")
    }
}
