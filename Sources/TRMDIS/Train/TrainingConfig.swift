/// How a model is trained (docs/model.md: TRM-ACT, DIS).
public struct TrainingConfig: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable { case dis, trm }
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable { case adamATan2 = "adam-atan2", adamW = "adamw" }
    /// DIS intermediate targets (docs/model.md: DIS): what an unrevealed cell of the answer holds.
    public enum Corruption: String, Codable, Sendable, CaseIterable {
        /// The official code: the input grid's value (a random-order path from input to label).
        case path
        /// The paper's text: a mask token (`maskToken`).
        case mask
        /// The paper's text: a random token, drawn once per cell each time the example is sampled.
        case random
        /// The dataset's own targets (`<set>__intermediate_steps.npy`, as the DIS code's datasets may hold):
        /// with N_sup rows, row s−1 is step s's target; with N_sup + 1 rows (path[0] = the input first), row s.
        case dataset
    }
    public enum StepWeights: String, Codable, Sendable, CaseIterable {
        /// Every supervision step weighs 1 (the official code).
        case constant
        /// w_s = 2s/(N_sup+1): increasing, mean 1 (the paper's text).
        case linear
    }

    public var method: Method = .dis
    public var batchSize = 64
    public var seed: UInt64 = 0
    public var loss: LossKind = .stablemax
    public var optimizer: OptimizerKind = .adamATan2
    public var learningRate: Float = 1e-4
    public var warmupSteps = 2000
    /// Optimiser steps the cosine runs over (ignored when minLRRatio = 1).
    public var totalSteps = 100_000
    /// 1 = constant after warm-up (the reference); < 1 = cosine down to lr·minLRRatio.
    public var minLRRatio: Float = 1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var weightDecay: Float = 0.1
    public var puzzleEmbLR: Float = 1e-2
    public var puzzleEmbWeightDecay: Float = 0.1
    /// Clip the global gradient norm to this value (nil = no clipping, as the reference).
    public var gradClip: Float? = nil
    /// EMA rate for the evaluation weights (nil = off).
    public var emaRate: Float? = nil

    // DIS
    public var corruption: Corruption = .path
    /// Token used by the mask kernel; must be inside the vocabulary.
    public var maskToken: Int32 = 0
    /// Feed each step's argmax back as the next step's input (official code) instead of the fixed input.
    public var feedbackPredictions = true
    public var stepWeights: StepWeights = .constant
    /// One optimiser step after every supervision step (official) or one per batch.
    public var optimizerStepPerSupervisionStep = true

    // TRM
    public var haltExplorationProb: Float = 0.1
    public var haltLossWeight: Float = 0.5

    public init() {}

    /// The defaults of `method`, the one source every front door uses: DIS as the official DIS code (no
    /// EMA), TRM-ACT as the TRM paper's runs (EMA 0.999 of the evaluation weights).
    public init(method: Method) {
        self.method = method
        emaRate = method == .trm ? 0.999 : nil
    }

    /// Named starting points (docs/your-task.md has what each reaches):
    /// - "paper": the official runs' settings (lr 1e-4, 2,000 warm-up steps, batch 64, weight decay 0.1,
    ///   EMA 0.999 for TRM-ACT): made for hours on GPUs; a run of a few hundred steps learns little.
    /// - "small-task": for a task a CPU learns in minutes (lr 1e-3, 100 warm-up steps, batch 32, weight decay
    ///   0.01, gradient norm clipped at 1, no EMA: too few steps for a 0.999 average).
    public static let recipes = ["paper", "small-task"]

    public static func recipe(_ name: String, method: Method) -> TrainingConfig? {
        var t = TrainingConfig(method: method)
        switch name {
        case "paper":
            return t
        case "small-task":
            t.learningRate = 1e-3
            t.warmupSteps = 100
            t.batchSize = 32
            t.weightDecay = 0.01
            t.gradClip = 1
            t.emaRate = nil
            return t
        default:
            return nil
        }
    }

    public func validate(for model: ModelConfig) throws(TRMError) {
        func require(_ ok: Bool, _ m: String) throws(TRMError) { if !ok { throw .invalidArgument(m) } }
        try require(batchSize >= 1 && batchSize <= Runner.maxBatchSize, "batch size must be in 1...\(Runner.maxBatchSize)")
        try require(learningRate.isFinite && learningRate >= 0, "learning rate must be finite and >= 0")
        try require(puzzleEmbLR.isFinite && puzzleEmbLR >= 0, "puzzle-embedding learning rate must be finite and >= 0")
        try require(warmupSteps >= 0 && totalSteps >= 1, "warm-up must be >= 0 and total steps >= 1")
        try require(minLRRatio >= 0 && minLRRatio <= 1, "minLRRatio must be in [0, 1]")
        try require((0..<1).contains(beta1) && (0..<1).contains(beta2), "betas must be in [0, 1)")
        try require(weightDecay.isFinite && weightDecay >= 0 && puzzleEmbWeightDecay.isFinite && puzzleEmbWeightDecay >= 0,
                    "weight decays must be finite and >= 0")
        try require(gradClip.map { $0 > 0 && $0.isFinite } ?? true, "gradient clip must be positive")
        try require(emaRate.map { $0 > 0 && $0 < 1 } ?? true, "EMA rate must be in (0, 1)")
        try require((0...1).contains(haltExplorationProb), "halt exploration probability must be in [0, 1]")
        try require(haltLossWeight.isFinite && haltLossWeight >= 0, "halt loss weight must be finite and >= 0")
        try require(corruption != .mask || (0..<Int32(model.vocabSize)).contains(maskToken),
                    "the mask token must be inside the vocabulary")
    }
}
