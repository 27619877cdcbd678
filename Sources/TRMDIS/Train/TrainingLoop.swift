import Synchronization

/// Runs a trainer for a budget of steps or seconds, evaluating and checkpointing on a schedule, and
/// reports after every step. Shared by the command line and the C API; stoppable from another thread.
/// With a data-parallel trainer every rank runs a loop: they agree before each step whether to stop (any
/// rank's budget, stop request or callback stops them all), and rank 0 alone evaluates.
public final class TrainingLoop: @unchecked Sendable {
    public struct Options: Sendable {
        /// Trainer steps (DIS: mini-batches; TRM: supervision steps of every slot). nil: unbounded.
        public var maxSteps: Int?
        /// Wall-clock budget in seconds. nil: unbounded.
        public var maxSeconds: Double?
        /// Evaluate every this many trainer steps (0: only at the end).
        public var evalEvery = 0
        public var evalLimit: Int?
        /// Write a checkpoint every this many trainer steps (0: only at the end) into `checkpointDirectory`.
        public var checkpointEvery = 0
        public var checkpointDirectory: String?
        public init() {}
    }

    /// What the loop reports after each step; `evaluation` is set after an evaluation.
    public struct Progress: Sendable {
        public var step: Int
        public var totalSteps: Int?
        public var elapsed: Double
        public var metrics: TrainMetrics
        public var evaluation: EvalReport?
        /// A checkpoint was written after this step.
        public var checkpointWritten = false
    }

    public let trainer: Trainer
    public let options: Options
    public let evalExamples: ExampleSet?
    private let stopFlag = Atomic<Bool>(false)

    public init(trainer: Trainer, options: Options, evalExamples: ExampleSet? = nil) {
        self.trainer = trainer
        self.options = options
        self.evalExamples = evalExamples
    }

    /// Safe from any thread: the loop stops after the current step.
    public func requestStop() { stopFlag.store(true, ordering: .relaxed) }

    /// Clears a stop request so the loop can run again.
    public func clearStop() { stopFlag.store(false, ordering: .relaxed) }

    /// Evaluates with the evaluation weights (EMA when on); nil on data-parallel ranks other than 0.
    public func evaluateNow() throws(TRMError) -> EvalReport? {
        guard let evalExamples, (trainer.reducer?.rank ?? 0) == 0 else { return nil }
        return try trainer.withEvaluationWeights { () throws(TRMError) -> EvalReport in
            try evaluate(model: trainer.model, examples: evalExamples, batchSize: trainer.batchSize, limit: options.evalLimit)
        }
    }

    /// Runs until the budget is spent, `onProgress` returns false, or a stop is requested. Returns the
    /// final evaluation (if there are evaluation examples). Throws `.aborted` when stopped early.
    @discardableResult
    public func run(onProgress: (Progress) -> Bool) throws(TRMError) -> EvalReport? {
        // A checkpoint directory that cannot be written fails now, not after hours of training.
        if let dir = options.checkpointDirectory, (trainer.reducer?.rank ?? 0) == 0 { try checkWritableDirectory(dir) }
        let t0 = monotonicSeconds()
        var step = 0
        var last: EvalReport?
        var callbackStop = false
        while true {
            if trainer.reducer != nil {
                // Every rank must take the same number of steps, or the others would wait in the all-reduce.
                let timeUp = options.maxSeconds.map { monotonicSeconds() - t0 >= $0 } ?? false
                let stop = stopFlag.load(ordering: .relaxed) || callbackStop
                let (anyTimeUp, anyStop) = try agree(timeUp, stop)
                if anyStop {
                    throw .aborted(callbackStop ? "training stopped by the progress callback after \(step) steps"
                                   : "training stopped on request (on this or another rank) after \(step) steps")
                }
                if anyTimeUp { break }
            }
            if let maxSteps = options.maxSteps, step >= maxSteps { break }
            if trainer.reducer == nil {
                if let maxSeconds = options.maxSeconds, monotonicSeconds() - t0 >= maxSeconds { break }
                if stopFlag.load(ordering: .relaxed) { throw .aborted("training stopped on request after \(step) steps") }
            }
            let metrics = try trainer.trainStep()
            step += 1
            var evaluation: EvalReport?
            if options.evalEvery > 0 && step % options.evalEvery == 0 { evaluation = try evaluateNow(); last = evaluation }
            var saved = false
            if options.checkpointEvery > 0 && step % options.checkpointEvery == 0, let dir = options.checkpointDirectory {
                try trainer.saveCheckpoint(directory: dir)
                saved = true
            }
            let progress = Progress(step: step, totalSteps: options.maxSteps, elapsed: monotonicSeconds() - t0,
                                    metrics: metrics, evaluation: evaluation, checkpointWritten: saved)
            if !onProgress(progress) {
                guard trainer.reducer != nil else {
                    throw .aborted("training stopped by the progress callback after \(step) steps")
                }
                callbackStop = true
            }
        }
        if let dir = options.checkpointDirectory { try trainer.saveCheckpoint(directory: dir) }
        if last == nil || options.evalEvery == 0 || step % max(1, options.evalEvery) != 0 { last = try evaluateNow() }
        return last
    }

    /// Whether any rank's budget ran out and whether any rank asked to stop (one small all-reduce).
    private func agree(_ timeUp: Bool, _ stop: Bool) throws(TRMError) -> (Bool, Bool) {
        guard let reducer = trainer.reducer else { return (timeUp, stop) }
        var flags: (Float, Float) = (timeUp ? 1 : 0, stop ? 1 : 0)
        try withUnsafeMutableBytes(of: &flags) { (raw) throws(TRMError) in
            try reducer.allReduceSum(raw.baseAddress!.assumingMemoryBound(to: Float.self), count: 2)
        }
        return (flags.0 > 0, flags.1 > 0)
    }
}
