import ArgumentParser
import TRMDIS
import TRMDISTasks

/// Options that fill a TrainingConfig. Unset options take the recipe's values (`TrainingConfig.recipe`,
/// default "paper": the engine's defaults for the method), the same as the C and Python front doors.
struct TrainOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Method: dis or trm.") var method: String = "dis"
    @Option(parsing: .unconditional, help: "Recipe: paper (the official runs' settings, for long runs) or small-task (lr 1e-3, warm-up 100, batch 32, weight decay 0.01, clip 1, no EMA; docs/your-task.md).")
    var recipe: String = "paper"
    @Option(parsing: .unconditional, help: "Batch size (default: the recipe's, 64 for paper).") var batch: Int?
    @Option(parsing: .unconditional, help: "Learning rate (default: the recipe's, 1e-4 for paper).") var lr: Float?
    @Option(parsing: .unconditional, help: "Warm-up in optimiser steps (a DIS trainer step makes N_sup of them; --steps counts trainer steps; default: the recipe's, 2000 for paper).")
    var warmup: Int?
    @Option(parsing: .unconditional, help: "Weight decay (default: the recipe's, 0.1 for paper).") var weightDecay: Float?
    @Option(parsing: .unconditional, help: "Optimiser: adam-atan2 or adamw.") var optimizer: String = "adam-atan2"
    @Option(parsing: .unconditional, help: "Loss: stablemax or softmax.") var loss: String = "stablemax"
    @Option(parsing: .unconditional, help: "Puzzle-embedding learning rate.") var puzzleEmbLr: Float = 1e-2
    @Option(parsing: .unconditional, help: "Puzzle-embedding weight decay.") var puzzleEmbWeightDecay: Float = 0.1
    @Option(parsing: .unconditional, help: "EMA rate of the evaluation weights (0 = off; default: 0.999 for trm, off for dis).") var ema: Float?
    @Option(parsing: .unconditional, help: "Clip the gradient norm to this value (0 = off; default: the recipe's, off for paper).") var gradClip: Float?
    @Option(parsing: .unconditional, help: "Cosine decay to lr·ratio after warm-up (1 = constant, the reference).") var minLrRatio: Float = 1
    @Option(parsing: .unconditional, help: "DIS step targets: path, mask, random, or dataset (the data's <set>__intermediate_steps.npy).") var corruption: String = "path"
    @Option(parsing: .unconditional, help: "DIS mask token (mask kernel).") var maskToken: Int32 = 0
    @Flag(inversion: .prefixedNo, help: "DIS: feed each step's prediction back as the next input.") var feedback = true
    @Option(parsing: .unconditional, help: "DIS step weights: constant or linear.") var stepWeights: String = "constant"
    @Flag(help: "DIS: one optimiser step per batch instead of per supervision step.") var stepPerBatch = false
    @Option(parsing: .unconditional, help: "Seed.") var seed: UInt64 = 0

    func parsedMethod() throws -> TrainingConfig.Method {
        guard let m = TrainingConfig.Method(rawValue: method) else { throw ValidationError("--method must be dis or trm") }
        return m
    }

    /// The recipe's configuration for the method, before any explicit option.
    func base() throws -> TrainingConfig {
        guard let t = TrainingConfig.recipe(recipe, method: try parsedMethod()) else {
            throw ValidationError("--recipe must be one of \(TrainingConfig.recipes.joined(separator: ", "))")
        }
        return t
    }

    /// The batch size the run will use.
    func batchSize() throws -> Int { try batch ?? base().batchSize }

    func config(totalSteps: Int) throws -> TrainingConfig {
        var t = try base()
        guard let o = TrainingConfig.OptimizerKind(rawValue: optimizer) else { throw ValidationError("--optimizer must be adam-atan2 or adamw") }
        guard let l = LossKind(rawValue: loss) else { throw ValidationError("--loss must be stablemax or softmax") }
        guard let c = TrainingConfig.Corruption(rawValue: corruption) else { throw ValidationError("--corruption must be path, mask, random or dataset") }
        guard let w = TrainingConfig.StepWeights(rawValue: stepWeights) else { throw ValidationError("--step-weights must be constant or linear") }
        t.optimizer = o
        t.loss = l
        t.corruption = c
        t.stepWeights = w
        if let batch { t.batchSize = batch }
        if let lr { t.learningRate = lr }
        if let warmup { t.warmupSteps = warmup }
        t.totalSteps = max(1, totalSteps)
        t.minLRRatio = minLrRatio
        if let weightDecay { t.weightDecay = weightDecay }
        t.puzzleEmbLR = puzzleEmbLr
        t.puzzleEmbWeightDecay = puzzleEmbWeightDecay
        if let gradClip { t.gradClip = gradClip > 0 ? gradClip : nil }
        if let ema { t.emaRate = ema > 0 ? ema : nil }
        t.maskToken = maskToken
        t.feedbackPredictions = feedback
        t.optimizerStepPerSupervisionStep = !stepPerBatch
        t.seed = seed
        return t
    }
}
