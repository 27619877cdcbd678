import ArgumentParser
import TRMDIS
import TRMDISTasks

/// The root command; trmdis-cli's main (Sources/trmdis-cli) runs it.
public struct TRMDISCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "trmdis",
        abstract: "Tiny Recursive Models and Deep Improvement Supervision on the CPU.",
        version: "trmdis \(trmdisVersion) (C ABI \(trmdisABI))",
        subcommands: [Info.self, Init.self, Train.self, Eval.self, EvalARC.self, Solve.self, Bench.self, DataCommand.self,
                      ImportOfficial.self, ExportOfficial.self]
    )
}

/// Options that choose a model configuration: a preset, optionally overridden field by field.
struct ModelOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Preset: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: String = "dis-compact"
    @Option(parsing: .unconditional, help: "Override the hidden size D.") var hidden: Int?
    @Option(parsing: .unconditional, help: "Override the number of layers.") var layers: Int?
    @Option(parsing: .unconditional, help: "Override the number of heads.") var heads: Int?
    @Option(parsing: .unconditional, help: "Override the grid length (tokens per example).") var seqLen: Int?
    @Option(parsing: .unconditional, help: "Override the vocabulary size.") var vocab: Int?
    @Option(parsing: .unconditional, help: "Override the puzzle-prefix length (0 for none).") var puzzleEmbLen: Int?
    @Option(name: .customLong("T"), parsing: .unconditional, help: "Override T, the recursion processes per supervision step.") var hCycles: Int?
    @Option(name: .customLong("n"), parsing: .unconditional, help: "Override n, the latent updates per recursion process.") var lCycles: Int?
    @Option(parsing: .unconditional, help: "Override N_sup, the supervision steps.") var supervisionSteps: Int?
    @Option(parsing: .unconditional, help: "Add the DIS step-time embedding (true/false; `train` default: on for --method dis, off for trm).") var timeEmbedding: Bool?
    @Option(parsing: .unconditional, help: "Override the token mixer: attention or mlp_t.") var mixer: String?
    @Option(parsing: .unconditional, help: "Override the position encoding: rope, learned or none.") var positions: String?

    func config() throws -> ModelConfig {
        guard let p = Preset.named(preset) else {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var c = p.config
        if let hidden { c.hiddenSize = hidden; c.puzzleEmbDim = c.puzzleEmbLen > 0 ? hidden : 0 }
        if let layers { c.numLayers = layers }
        if let heads { c.numHeads = heads }
        if let seqLen { c.seqLen = seqLen }
        if let vocab { c.vocabSize = vocab }
        if let puzzleEmbLen {
            c.puzzleEmbLen = puzzleEmbLen
            c.puzzleEmbDim = puzzleEmbLen > 0 ? c.hiddenSize : 0
            c.numPuzzleIdentifiers = puzzleEmbLen > 0 ? max(1, c.numPuzzleIdentifiers) : 0
        }
        if let hCycles { c.hCycles = hCycles }
        if let lCycles { c.lCycles = lCycles }
        if let supervisionSteps { c.supervisionSteps = supervisionSteps }
        if let timeEmbedding { c.timeEmbedding = timeEmbedding }
        if let mixer {
            guard let m = Mixer(rawValue: mixer) else { throw ValidationError("--mixer must be attention or mlp_t") }
            c.mixer = m
        }
        if let positions {
            guard let e = PositionEncoding(rawValue: positions) else { throw ValidationError("--positions must be rope, learned or none") }
            c.posEncoding = e
        }
        do { try c.validate() } catch { throw ValidationError(flagNames(error)) }
        return c
    }
}

/// A failure found while a command runs (after its arguments were accepted): printed as "Error: ..."
/// without the usage, which would not help.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// An engine message about a configuration, with the command line's flag names instead of Swift's
/// property names ("hiddenSize must be ..." reads "--hidden must be ...").
func flagNames(_ error: TRMError) -> String {
    var text: String
    switch error {
    case .invalidArgument(let m), .format(let m): text = m
    default: text = error.description
    }
    let names = ["hiddenSize": "--hidden", "numLayers": "--layers", "numHeads": "--heads", "seqLen": "--seq-len",
                 "vocabSize": "--vocab", "puzzleEmbLen": "--puzzle-emb-len", "hCycles (T)": "--T", "lCycles (n)": "--n",
                 "hCycles": "--T", "lCycles": "--n", "supervisionSteps": "--supervision-steps",
                 "puzzleEmbDim": "the puzzle-embedding width", "numPuzzleIdentifiers": "the dataset's puzzle identifiers"]
    for (swift, flag) in names.sorted(by: { $0.key.count > $1.key.count }) {
        text = text.split(separator: swift, omittingEmptySubsequences: false).joined(separator: flag)
    }
    return text
}

struct Info: ParsableCommand {
    func validate() throws { if checkpoint == nil { _ = try model.config() } }

    static let configuration = CommandConfiguration(
        abstract: "Print a model configuration and its parameter count: a preset's, or a model file's with how it was trained.")
    @OptionGroup var model: ModelOptions
    @Option(parsing: .unconditional, help: "A model file (.safetensors) to describe instead of a preset.") var checkpoint: String?

    func run() throws {
        let c: ModelConfig
        if let checkpoint {
            let loaded = try Model.load(from: checkpoint)
            c = loaded.config
            let p = loaded.inferenceProtocol
            print("model file: \(checkpoint)")
            print("trained as: \(p.method.rawValue), feedback \(p.feedbackPredictions), time rows \(p.timeRows.rawValue), N_sup \(p.supervisionSteps)"
                  + (loaded.trainingRecord == nil ? " (no training record: inferred from the configuration)" : ""))
        } else {
            c = try model.config()
            print("preset: \(model.preset)")
        }
        let layout = ParameterLayout(c)
        print(c.summary)
        print("tensors:")
        for spec in layout.specs {
            print("  \(spec.name) \(spec.shape.map(String.init).joined(separator: "x"))")
        }
        print("parameters: \(layout.total)")
        print(blasLine())
    }
}

/// One line naming the BLAS the products run on: library version, the core in use (and how it was chosen),
/// the CPU's instruction set, the thread count and the engine's own elementwise kernels; a second line with
/// the warning, if any.
func blasLine() -> String {
    let b = BLASInfo.current
    let how = b.corrected ? "corrected from \(b.detectedCore)" : b.coreTypeFromEnvironment != nil ? "OPENBLAS_CORETYPE" : "detected"
    let version = b.version.split(separator: " ").prefix(2).joined(separator: " ")
    let kernels = b.library.isEmpty ? "none (OpenBLAS not loaded)" : "\(version), core \(b.core) (\(how))"
    var line = "blas: \(kernels), cpu \(b.isa), \(b.threads) threads, elementwise kernels \(Elementwise.name)"
    if let warning = b.warning { line += "\nwarning: " + warning }
    return line
}
