/// How inference runs (docs/model.md: Inference): always a fixed number of supervision steps from a
/// fresh carry. The defaults are the protocol the model was trained with (`Model.inferenceProtocol`);
/// every field can be overridden.
public struct InferenceOptions: Sendable {
    /// Supervision steps to run (nil: the model's N_sup).
    public var steps: Int?
    /// Guidance weight w: the step's logits are (1−w)·l_u + w·l_c, with l_u the readout of y before the
    /// step and l_c after it (DIS paper, Eq. 5). w = 1 is plain inference.
    public var guidance: Float = 1
    /// Feed each step's prediction back as the next step's input (nil: as trained).
    public var feedbackPredictions: Bool?
    /// Which step-time rows the steps use (nil: as trained; ignored without a table).
    public var timeRows: TrainingRecord.TimeRows?

    public init(steps: Int? = nil, guidance: Float = 1, feedbackPredictions: Bool? = nil,
                timeRows: TrainingRecord.TimeRows? = nil) {
        self.steps = steps
        self.guidance = guidance
        self.feedbackPredictions = feedbackPredictions
        self.timeRows = timeRows
    }

    /// The protocol these options give for `model`: its own, with the overridden fields replaced.
    public func resolved(for model: Model) -> TrainingRecord {
        var p = model.inferenceProtocol
        if let feedbackPredictions { p.feedbackPredictions = feedbackPredictions }
        if let timeRows { p.timeRows = timeRows }
        p.supervisionSteps = model.config.supervisionSteps
        return p
    }
}

/// What one supervision step of inference produced, handed to the caller's closure: borrowed buffers,
/// valid during the call only.
public struct InferenceStep {
    public let step: Int
    /// [B, seqLen] argmax of the (guided) logits.
    public let predictions: UnsafePointer<Int32>
    /// [B, seqLen, vocab] the (guided) logits.
    public let logits: UnsafePointer<Float>
    /// [B, 2] q_halt, q_continue after the step (the halting confidence is sigmoid(q_halt)).
    public let qLogits: UnsafePointer<Float>
}

/// Runs trained models on batches of puzzles, step by step.
public final class Predictor {
    public let model: Model
    public let runner: Runner
    private let arena = Arena()
    private let unconditional: UnsafeMutablePointer<Float>
    private let qScratch: UnsafeMutablePointer<Float>
    private let predictions: UnsafeMutablePointer<Int32>

    public init(model: Model, batchSize: Int) throws(TRMError) {
        self.model = model
        runner = try Runner(model: model, batchSize: batchSize)
        let c = model.config
        unconditional = try arena.floats(batchSize * c.seqLen * c.vocabSize)
        qScratch = try arena.floats(batchSize * 2)
        predictions = try arena.int32s(batchSize * c.seqLen)
    }

    public var batchSize: Int { runner.batchSize }

    /// The most supervision steps one prediction runs (TRM_MAX_STEPS).
    public static let maxSteps = 4096

    /// Solves `count` ≤ batchSize puzzles (inputs [count, seqLen], puzzle ids [count] or nil for 0),
    /// calling `onStep` after every supervision step. Unused batch slots repeat the first puzzle. The whole
    /// run reads the weights as they were when it began (a small batch runs on a packed copy of them:
    /// `Runner.withPackedWeights`), so `onStep` must not change them.
    public func run(inputs: UnsafePointer<Int32>, puzzleIds: UnsafePointer<Int32>?, count: Int,
                    options: InferenceOptions, onStep: (InferenceStep) throws(TRMError) -> Void) throws(TRMError) {
        let c = model.config, n = c.seqLen, b = batchSize
        guard count >= 1 && count <= b else { throw .invalidArgument("count must be in 1...\(b) (got \(count))") }
        let steps = options.steps ?? c.supervisionSteps
        guard (1...Predictor.maxSteps).contains(steps) else { throw .invalidArgument("steps must be in 1...\(Predictor.maxSteps) (got \(steps))") }
        guard options.guidance.isFinite else { throw .invalidArgument("guidance weight must be finite") }
        for slot in 0..<b {
            let src = slot < count ? slot : 0
            (runner.tokens + slot * n).update(from: inputs + src * n, count: n)
            runner.puzzleIds[slot] = puzzleIds?[src] ?? 0
        }
        try runner.validateInputs()
        runner.resetCarry()
        let w = options.guidance, cells = b * n * c.vocabSize
        let trained = options.resolved(for: model)
        try runner.withPackedWeights { () throws(TRMError) in
            for s in 1...steps {
                if w != 1 { runner.readout(logits: unconditional, q: qScratch) }
                runner.timeStep = trained.timeRow(step: s)
                try runner.forward(requiresGrad: false)
                let logits = runner.logits
                if w != 1 {
                    for i in 0..<cells { logits[i] = (1 - w) * unconditional[i] + w * logits[i] }
                }
                Predictions.argmax(logits, cells: b * n, vocab: c.vocabSize, into: predictions)
                try onStep(InferenceStep(step: s, predictions: predictions, logits: logits, qLogits: runner.qLogits))
                if trained.feedbackPredictions { runner.tokens.update(from: predictions, count: b * n) }
            }
        }
    }

    /// Solves `count` puzzles of any number, batchSize at a time, in order: `onStep` gets the index of
    /// the batch's first puzzle, the batch's size and the step. The one batching loop of every front door.
    public func runAll(inputs: UnsafePointer<Int32>, puzzleIds: UnsafePointer<Int32>?, count: Int,
                       options: InferenceOptions,
                       onStep: (_ start: Int, _ count: Int, InferenceStep) throws(TRMError) -> Void) throws(TRMError) {
        let n = model.config.seqLen
        var start = 0
        while start < count {
            let size = min(batchSize, count - start)
            try run(inputs: inputs + start * n, puzzleIds: puzzleIds.map { $0 + start }, count: size,
                    options: options) { (step) throws(TRMError) in try onStep(start, size, step) }
            start += size
        }
    }
}
