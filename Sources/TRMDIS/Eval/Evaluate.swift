/// Accuracy of a model on a set of examples, after every supervision step.
public struct EvalReport: Codable, Sendable, Equatable {
    public struct Step: Codable, Sendable, Equatable {
        public var step: Int
        public var exactAccuracy: Double
        public var tokenAccuracy: Double
        /// Mean number of non-ignored cells that differ from the label (the distance DIS drives down).
        public var meanHamming: Double
        /// Fraction of predictions the task's checker accepts (any valid solution, e.g. another valid
        /// N-Queens completion); nil without a checker.
        public var validAccuracy: Double? = nil
    }

    public var examples = 0
    /// After the last step.
    public var exactAccuracy = 0.0
    public var tokenAccuracy = 0.0
    /// After the last step, with a checker.
    public var validAccuracy: Double? = nil
    public var perStep: [Step] = []
    public var netCallsPerExample = 0
    public var seconds = 0.0
}

/// Accepts a prediction for an input (token sequences), e.g. a task's solution checker.
public typealias SolutionChecker = (_ input: [UInt8], _ prediction: [UInt8]) -> Bool

/// Runs every example through `options.steps` supervision steps and scores each step's prediction;
/// with a `checker`, also the fraction of valid solutions.
/// `onBatch(done, total)` runs after every batch; returning false stops the evaluation with `.aborted`.
/// `onFinalPredictions(start, count, tokens)` sees the last step's predictions of examples
/// start..<start+count (count × seqLen tokens, valid during the call).
public func evaluate(model: Model, examples: ExampleSet, batchSize: Int = 64, options: InferenceOptions? = nil,
                     limit: Int? = nil, checker: SolutionChecker? = nil,
                     onBatch: ((Int, Int) -> Bool)? = nil,
                     onFinalPredictions: ((_ start: Int, _ count: Int, _ tokens: UnsafePointer<Int32>) -> Void)? = nil)
    throws(TRMError) -> EvalReport {
    try examples.validate(for: model.config)
    let c = model.config, n = c.seqLen
    let options = options ?? InferenceOptions()
    let steps = options.steps ?? c.supervisionSteps
    guard (1...Predictor.maxSteps).contains(steps) else { throw .invalidArgument("steps must be in 1...\(Predictor.maxSteps) (got \(steps))") }
    if let limit, limit < 1 { throw .invalidArgument("the example limit must be at least 1 (got \(limit))") }
    let total = min(examples.count, limit ?? examples.count)
    let predictor = try Predictor(model: model, batchSize: min(batchSize, max(1, total)))
    var stats = [EvalReport.Step](repeating: .init(step: 0, exactAccuracy: 0, tokenAccuracy: 0, meanHamming: 0),
                                  count: steps)
    let t0 = monotonicSeconds()
    try examples.inputs.withUnsafeBufferPointer { (inputs) throws(TRMError) in
        try examples.puzzleIds.withUnsafeBufferPointer { (ids) throws(TRMError) in
            try examples.labels.withUnsafeBufferPointer { (labels) throws(TRMError) in
                try predictor.runAll(inputs: inputs.baseAddress!, puzzleIds: ids.baseAddress!, count: total,
                                     options: options) { (start, count, r) throws(TRMError) in
                    for e in 0..<count {
                        let y = labels.baseAddress! + (start + e) * n, p = r.predictions + e * n
                        let (tokens, exact) = Predictions.score(p, y, n)
                        var wrong = 0
                        for t in 0..<n where y[t] != Losses.ignoreLabel && p[t] != y[t] { wrong += 1 }
                        stats[r.step - 1].tokenAccuracy += tokens
                        stats[r.step - 1].exactAccuracy += exact ? 1 : 0
                        stats[r.step - 1].meanHamming += Double(wrong)
                        if let checker {
                            let x = inputs.baseAddress! + (start + e) * n
                            let ok = checker((0..<n).map { UInt8(clamping: x[$0]) }, (0..<n).map { UInt8(clamping: p[$0]) })
                            stats[r.step - 1].validAccuracy = (stats[r.step - 1].validAccuracy ?? 0) + (ok ? 1 : 0)
                        }
                    }
                    if r.step == steps, let onFinalPredictions { onFinalPredictions(start, count, UnsafePointer(r.predictions)) }
                    if r.step == steps, let onBatch, !onBatch(start + count, total) {
                        throw .aborted("evaluation stopped after \(start + count) of \(total) examples")
                    }
                }
            }
        }
    }
    var report = EvalReport()
    report.examples = total
    for s in 0..<steps {
        stats[s].step = s + 1
        stats[s].tokenAccuracy /= Double(total)
        stats[s].exactAccuracy /= Double(total)
        stats[s].meanHamming /= Double(total)
        stats[s].validAccuracy = stats[s].validAccuracy.map { $0 / Double(total) }
    }
    report.perStep = stats
    report.exactAccuracy = stats.last!.exactAccuracy
    report.tokenAccuracy = stats.last!.tokenAccuracy
    report.validAccuracy = stats.last!.validAccuracy
    report.netCallsPerExample = steps * c.netCallsPerStep
    report.seconds = monotonicSeconds() - t0
    return report
}
