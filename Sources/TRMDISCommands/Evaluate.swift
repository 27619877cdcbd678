import ArgumentParser
import TRMDIS
import TRMDISTasks
import FoundationEssentials

/// A dataset split as the trainers' examples, with its metadata.
struct LoadedSplit {
    var examples: ExampleSet
    var metadata: DatasetMetadata
    var split: PuzzleSplit
}

/// One split of one or several dataset directories (merged as the official loader merges data_paths).
func loadSplit(directories: [String], split name: String) throws -> LoadedSplit {
    let split = try PuzzleSplit.load(directories: directories, split: name)
    return LoadedSplit(examples: split.exampleSet(), metadata: split.metadata, split: split)
}

func loadSplit(directory: String, split name: String) throws -> LoadedSplit {
    try loadSplit(directories: [directory], split: name)
}

/// Options of inference shared by `eval` and `solve`. Unset, each follows the protocol the checkpoint was
/// trained with (docs/model.md: The inference protocol).
struct InferenceFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Supervision steps (default: the model's N_sup).") var steps: Int?
    @Option(parsing: .unconditional, help: "Guidance weight w: logits (1-w)·l_u + w·l_c (1 = plain).") var guidance: Float = 1
    @Option(parsing: .unconditional, help: "Feed predictions back (true/false; default: as the model was trained).") var feedback: Bool?
    @Option(parsing: .unconditional, help: "Step-time rows: per-step (DIS) or first (default: as the model was trained).")
    var timeRows: TrainingRecord.TimeRows?

    var options: InferenceOptions {
        InferenceOptions(steps: steps, guidance: guidance, feedbackPredictions: feedback, timeRows: timeRows)
    }

    /// One line saying which protocol runs on `model`, and where it comes from.
    func protocolLine(_ model: Model) -> String {
        let p = options.resolved(for: model)
        let source = model.trainingRecord == nil ? "inferred: the file has no training record" : "as trained"
        let time = model.config.timeEmbedding ? ", time rows \(p.timeRows.rawValue)" : ""
        return "protocol: \(p.method.rawValue), feedback \(p.feedbackPredictions)\(time) (\(source); flags override)"
    }
}

extension TrainingRecord.TimeRows: ExpressibleByArgument {}

/// A value as one line of JSON with snake_case keys (the --json output of eval and solve).
func jsonText<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
}

/// `trmdis eval`: accuracy of a checkpoint after every supervision step.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a checkpoint on a dataset split.")
    @Option(parsing: .unconditional, help: "Model checkpoint (.safetensors).") var checkpoint: String
    @Option(parsing: .unconditionalSingleValue, help: "Dataset directory (repeat for several, merged as the official data_paths).") var data: [String]
    @Option(parsing: .unconditional, help: "Split.") var split = "test"
    @Option(parsing: .unconditional, help: "Evaluate at most this many examples.") var limit: Int?
    @Option(parsing: .unconditional, help: "Batch size.") var batch = 64
    @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
    @Option(parsing: .unconditional, help: "Task for the solution checker: sudoku, maze or nqueens (default: guessed; 'none' to skip).") var kind: String?
    @OptionGroup var inference: InferenceFlags
    @Flag(help: "Print the report as one JSON object (snake_case keys) instead of a table.") var json = false
    @Option(parsing: .unconditional, help: "Write the last step's predictions here (.npy, uint8, examples × seq_len).")
    var predictions: String?

    func run() throws {
        if let threads { try Threads.set(threads) }
        let model = try Model.load(from: checkpoint)
        let s = try loadSplit(directories: data, split: split)
        let checker = kind == "none" ? nil : (try? guessTask(s.split, kind: kind)).flatMap(solutionChecker(for:))
        let n = model.config.seqLen
        var tokens = [UInt8]()
        let report = try evaluate(model: model, examples: s.examples, batchSize: batch,
                                  options: inference.options, limit: limit, checker: checker,
                                  onFinalPredictions: predictions == nil ? nil : { start, count, p in
                                      precondition(start * n == tokens.count, "batches arrive in order")
                                      tokens += UnsafeBufferPointer(start: p, count: count * n).map { UInt8(clamping: $0) }
                                  })
        if let predictions {
            let array = NpyArray(uint8: tokens, shape: [report.examples, n])
            try writeFileAtomically(predictions, array.encoded())
        }
        if json {
            print(jsonText(report))
            return
        }
        print(inference.protocolLine(model))
        printReport(report, label: "\(split) (w = \(inference.guidance))")
        print("seconds: \(fixed(report.seconds, 2))")
    }
}
