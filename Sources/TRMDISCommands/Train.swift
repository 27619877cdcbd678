import ArgumentParser
import TRMDIS
import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// `trmdis train`: trains DIS or TRM on a dataset directory, with a live progress line, JSON-lines
/// metrics, periodic evaluation and checkpoints, and exact resume. Under trmdis-mpi every rank runs it
/// with `DataParallel.reducer` set: rank 0 alone prints, logs and writes checkpoints.
public struct Train: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(abstract: "Train a model with DIS or the TRM-ACT baseline.")
    @OptionGroup var model: ModelOptions
    @OptionGroup var training: TrainOptions
    @Option(parsing: .unconditionalSingleValue, help: "Dataset directory (the TRM format: train/ and test/); repeat for several, merged as the official data_paths.") var data: [String]
    @Option(parsing: .unconditional, help: "Trainer steps (DIS: mini-batches of N_sup optimiser steps; TRM: supervision steps).") var steps: Int?
    @Option(parsing: .unconditional, help: "Epochs as the official code counts them, total_groups × mean_puzzle_examples examples each (instead of --steps).") var epochs: Double?
    @Option(parsing: .unconditional, help: "Wall-clock budget in minutes.") var minutes: Double?
    @Option(parsing: .unconditional, help: "Evaluate every this many steps (0: at the end only).") var evalEvery = 0
    @Option(parsing: .unconditional, help: "Evaluate on at most this many test examples.") var evalLimit: Int?
    @Option(parsing: .unconditional, help: "Checkpoint directory (model.safetensors + state.safetensors).") var checkpoint: String?
    @Option(parsing: .unconditional, help: "Checkpoint every this many steps (0: at the end only).") var checkpointEvery = 0
    @Flag(help: "Resume from the checkpoint directory's training state.") var resume = false
    @Flag(help: "With --resume: continue on a dataset other than the checkpoint's.") var allowOtherDataset = false
    @Option(parsing: .unconditional, help: "Append JSON-lines metrics to this file.") var metrics: String?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?

    /// The largest step budget accepted (far beyond any run, and safe from overflow times N_sup).
    static let maxSteps = 1 << 40

    public func validate() throws {
        if let steps, !(1...Train.maxSteps).contains(steps) { throw ValidationError("--steps must be in 1...\(Train.maxSteps)") }
        if let epochs, !(epochs.isFinite && epochs > 0 && epochs <= 1e9) { throw ValidationError("--epochs must be a number in (0, 1e9]") }
        if let minutes, !(minutes.isFinite && minutes > 0 && minutes <= 1e7) { throw ValidationError("--minutes must be a number in (0, 1e7]") }
        if let evalLimit, evalLimit < 1 { throw ValidationError("--eval-limit must be at least 1") }
        if evalEvery < 0 || checkpointEvery < 0 { throw ValidationError("--eval-every and --checkpoint-every must be >= 0") }
        if let threads, !(1...Threads.maximum).contains(threads) { throw ValidationError("--threads must be in 1...\(Threads.maximum)") }
        if !resume { _ = try model.config() }  // the shapes, checked before any data is read
        _ = try training.base()
        if resume && checkpoint == nil { throw ValidationError("--resume needs --checkpoint DIR") }
        if steps == nil && epochs == nil && minutes == nil { throw ValidationError("give --steps, --epochs or --minutes") }
    }

    public func run() throws {
        let reducer = DataParallel.reducer, lead = (reducer?.rank ?? 0) == 0
        if let threads { try Threads.set(threads) } else if let t = DataParallel.defaultThreads { try Threads.set(t) }
        let train = try loadSplit(directories: data, split: "train")
        let test = try? loadSplit(directories: data, split: "test")
        let trainer: Trainer
        let plannedSteps: Int?
        if resume {
            guard let checkpoint else { throw CLIError("--resume needs --checkpoint DIR") }
            trainer = try Trainer.resume(directory: checkpoint, examples: train.examples, reducer: reducer,
                                         allowOtherDataset: allowOtherDataset)
            plannedSteps = steps
        } else {
            var c = try model.config()
            // The data fixes the grid: --vocab and --seq-len may only confirm it.
            if let v = model.vocab, v != train.metadata.vocabSize {
                throw CLIError("--vocab \(v) differs from the dataset's vocab_size \(train.metadata.vocabSize); train takes it from the data")
            }
            if let n = model.seqLen, n != train.metadata.seqLen {
                throw CLIError("--seq-len \(n) differs from the dataset's seq_len \(train.metadata.seqLen); train takes it from the data")
            }
            c.vocabSize = train.metadata.vocabSize
            c.seqLen = train.metadata.seqLen
            if c.puzzleEmbLen > 0 { c.numPuzzleIdentifiers = train.metadata.numPuzzleIdentifiers }
            // The time embedding follows the method (ModelConfig.forMethod) unless --time-embedding is given.
            if model.timeEmbedding == nil { c = c.forMethod(try training.parsedMethod()) }
            try c.validate()
            // An epoch as the official code counts it: total_groups × mean_puzzle_examples examples.
            let batches = Double(train.metadata.totalGroups) * train.metadata.meanPuzzleExamples / Double(try training.batchSize())
            plannedSteps = try steps ?? epochs.map { (e) throws in
                let planned = (e * batches).rounded(.up)
                guard planned <= Double(Train.maxSteps) else { throw CLIError("--epochs \(e) means more than \(Train.maxSteps) steps") }
                return max(1, Int(planned))
            }
            let optimiserSteps = (plannedSteps ?? 100_000) * (training.method == "dis" ? c.supervisionSteps : 1)
            trainer = try Trainer(model: try Model(config: c, seed: training.seed), examples: train.examples,
                                  config: try training.config(totalSteps: optimiserSteps), reducer: reducer)
        }
        var options = TrainingLoop.Options()
        options.maxSteps = plannedSteps
        options.maxSeconds = minutes.map { $0 * 60 }
        if plannedSteps == nil && minutes == nil { throw CLIError("give --steps, --epochs or --minutes") }
        options.evalEvery = evalEvery
        options.evalLimit = evalLimit
        options.checkpointEvery = checkpointEvery
        options.checkpointDirectory = checkpoint
        let loop = TrainingLoop(trainer: trainer, options: options, evalExamples: test?.examples)
        let log = lead ? try metrics.map { try JSONLines(path: $0) } : nil
        let c = trainer.model.config
        if let reducer, lead {
            let b = trainer.batchSize, n = reducer.size
            print("data-parallel: \(n) processes share the global batch \(b) (\(b / n)\(b % n == 0 ? "" : "-\(b / n + 1)") each)")
        }
        if lead { print("training \(trainer.config.method.rawValue) on \(data.joined(separator: " + ")): \(train.examples.count) examples, "
              + "\(trainer.model.parameterCount) parameters, batch \(trainer.batchSize), T \(c.hCycles) n \(c.lCycles) "
              + "N_sup \(c.supervisionSteps), threads \(Threads.count)\(reducer == nil ? "" : " per process")") }
        if lead && checkpoint == nil {
            printError("warning: no --checkpoint: the trained model is not saved")
        }
        let progress = ProgressLine(total: plannedSteps, budget: options.maxSeconds)
        Interrupt.install()
        defer { Interrupt.restore() }
        let final: EvalReport?
        do {
            final = try loop.run { p in
                if lead { progress.update(p) }
                log?.write(p)
                return !Interrupt.requested  // Ctrl-C: stop after this step
            }
        } catch {
            guard Interrupt.requested, case .aborted = error else { throw error }
            // Ctrl-C stopped the run after a whole step: keep it (every rank takes part in the save).
            if lead { progress.finish() }
            if let checkpoint {
                try trainer.saveCheckpoint(directory: checkpoint)
                if lead { print("interrupted after \(trainer.optimizerSteps) optimiser steps; checkpoint: \(checkpoint) (resume with --resume)") }
            } else if lead {
                print("interrupted after \(trainer.optimizerSteps) optimiser steps; no --checkpoint, nothing saved")
            }
            throw ExitCode(130)
        }
        guard lead else { return }
        progress.finish()
        if let final { printReport(final, label: "eval") }
        if let checkpoint { print("checkpoint: \(checkpoint)/\(Trainer.modelFile)") }
    }
}

/// A single terminal line rewritten in place: step, loss, accuracy, examples/s, ETA.
final class ProgressLine {
    let total: Int?
    let budget: Double?
    private var lastPrint = 0.0
    private let isTTY = isatty(1) != 0

    init(total: Int?, budget: Double?) { self.total = total; self.budget = budget }

    func update(_ p: TrainingLoop.Progress) {
        let now = monotonicSeconds()
        if now - lastPrint < (isTTY ? 0.2 : 10) && p.evaluation == nil && p.step != total { return }
        lastPrint = now
        var eta = ""
        if let total { eta = " ETA " + clock(p.elapsed / Double(p.step) * Double(total - p.step)) }
        else if let budget { eta = " left " + clock(max(0, budget - p.elapsed)) }
        let m = p.metrics
        var line = "step \(p.step)\(total.map { "/\($0)" } ?? "") loss \(fixed(m.loss, 4)) acc \(fixed(m.tokenAccuracy, 3))"
            + " exact \(fixed(m.exactAccuracy, 3)) \(fixed(m.examplesPerSecond, 1)) ex/s\(eta)"
        if let e = p.evaluation { line += " | eval exact \(fixed(e.exactAccuracy, 3)) token \(fixed(e.tokenAccuracy, 3))" }
        if isTTY { print("\r\u{1B}[2K" + line, terminator: p.evaluation != nil ? "\n" : "") } else { print(line) }
        fflush(stdout)
    }

    func finish() { if isTTY { print("") } }
}

func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(pad2(s / 60 % 60))m" : "\(s / 60):\(pad2(s % 60))"
}

func pad2(_ x: Int) -> String { x < 10 ? "0\(x)" : "\(x)" }

/// x with `digits` decimals (no Foundation formatting).
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (abs(x) * scale).rounded()
    let whole = Int(r / scale), frac = Int(r.truncatingRemainder(dividingBy: scale))
    var f = String(frac)
    while f.count < digits { f = "0" + f }
    return (x < 0 && r > 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + f : "")
}

func printReport(_ r: EvalReport, label: String) {
    let valid = r.validAccuracy.map { ", valid \(fixed($0, 4))" } ?? ""
    print("\(label): \(r.examples) examples, exact \(fixed(r.exactAccuracy, 4))\(valid), token \(fixed(r.tokenAccuracy, 4)), "
          + "\(r.netCallsPerExample) net calls per example")
    print("  step  exact   token   hamming" + (r.validAccuracy != nil ? "  valid" : ""))
    for s in r.perStep {
        print("  \(s.step < 10 ? " " : "")\(s.step)    \(fixed(s.exactAccuracy, 4))  \(fixed(s.tokenAccuracy, 4))  \(fixed(s.meanHamming, 3))"
              + (s.validAccuracy.map { "  \(fixed($0, 4))" } ?? ""))
    }
}
