import ArgumentParser
import TRMDIS

/// A dataset split as the trainers' examples, with its metadata.
struct LoadedSplit {
    var examples: ExampleSet
    var metadata: DatasetMetadata
    var split: PuzzleSplit
}

func loadSplit(directory: String, split name: String) throws -> LoadedSplit {
    let split = try PuzzleSplit.load(directory: directory + "/" + name)
    return LoadedSplit(examples: split.exampleSet(), metadata: split.metadata, split: split)
}

/// Options of inference shared by `eval` and `solve`.
struct InferenceFlags: ParsableArguments {
    @Option(help: "Supervision steps (default: the model's N_sup).") var steps: Int?
    @Option(help: "Guidance weight w: logits (1-w)·l_u + w·l_c (1 = plain).") var guidance: Float = 1
    @Option(help: "Feed predictions back (default: yes for DIS models, no for TRM).") var feedback: Bool?

    func options(for c: ModelConfig) -> InferenceOptions {
        var o = InferenceOptions.defaults(for: c)
        o.steps = steps
        o.guidance = guidance
        if let feedback { o.feedbackPredictions = feedback }
        return o
    }
}

/// `trmdis eval`: accuracy of a checkpoint after every supervision step.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a checkpoint on a dataset split.")
    @Option(help: "Model checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "Dataset directory.") var data: String
    @Option(help: "Split.") var split = "test"
    @Option(help: "Evaluate at most this many examples.") var limit: Int?
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Task for the solution checker: sudoku, maze or nqueens (default: guessed; 'none' to skip).") var kind: String?
    @OptionGroup var inference: InferenceFlags

    func run() throws {
        if let threads { Threads.set(threads) }
        let model = try Model.load(from: checkpoint)
        let s = try loadSplit(directory: data, split: split)
        let checker = kind == "none" ? nil : (try? guessTask(s.split, kind: kind)).flatMap(solutionChecker(for:))
        let report = try evaluate(model: model, examples: s.examples, batchSize: batch,
                                  options: inference.options(for: model.config), limit: limit, checker: checker)
        printReport(report, label: "\(split) (w = \(inference.guidance))")
        print("seconds: \(fixed(report.seconds, 2))")
    }
}
