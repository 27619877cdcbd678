/// Trains a model with DIS or the TRM-ACT baseline. Everything a step needs is allocated here once:
/// the runner (activations, carry, gradients), optimiser state, EMA, and the batch and target buffers.
/// `trainStep()` is one DIS mini-batch (N_sup supervision steps) or one TRM supervision step of every
/// slot; see Trainer+DIS.swift and Trainer+TRM.swift. With a `GradientReducer` the trainer is one rank of
/// a data-parallel group (Trainer+Reduce.swift): `batchSize` stays the global batch, and this rank
/// computes the slots `slice` of it.
public final class Trainer {
    public let model: Model
    public let config: TrainingConfig
    package let runner: Runner
    package var schedule: LearningRateSchedule
    public internal(set) var optimizerSteps = 0
    /// Examples drawn for the global batch (the same on every rank).
    public internal(set) var examplesSeen = 0
    /// The data-parallel group, or nil for a single process.
    public let reducer: GradientReducer?
    /// The global batch slots this rank computes (0..<batchSize without a reducer).
    public let slice: Range<Int>
    package internal(set) var sampler: BatchSampler
    let optimizer: AdamOptimizer
    let sparse: SparseSignSGD?
    package let ema: EMA?
    var rng: RNG
    let arena = Arena()

    // Per-slot data of this rank's slice: the example each slot holds, [b, seqLen] / [b].
    let inputs: UnsafeMutablePointer<Int32>
    let labels: UnsafeMutablePointer<Int32>
    let slotPuzzleIds: UnsafeMutablePointer<Int32>
    /// DIS: each step's targets (nil for TRM).
    let dis: DISTargets?
    let predicted: UnsafeMutablePointer<Int32>
    let perExample: UnsafeMutablePointer<Double>
    let puzzleGradSum: UnsafeMutablePointer<Float>
    let weightBackup: UnsafeMutablePointer<Float>
    /// The dataset index of every slot of the global batch being drawn.
    let batchExamples: UnsafeMutablePointer<Int32>
    // Data-parallel buffers (Trainer+Reduce.swift): the flat all-reduce buffer (dense gradients, then the
    // global batch's puzzle rows and ids), the gathered ids, and the metric sums (+ TRM halting flags).
    let reduceBuffer: UnsafeMutablePointer<Float>
    let globalPuzzleIds: UnsafeMutablePointer<Int32>
    let metricBuffer: UnsafeMutablePointer<Float>
    /// TRM: the continuous batch's bookkeeping.
    let slots: TRMSlots
    /// The training examples' fingerprint, recorded in checkpoints.
    let datasetFingerprint: String

    public init(model: Model, examples: ExampleSet, config: TrainingConfig,
                reducer: GradientReducer? = nil) throws(TRMError) {
        try config.validate(for: model.config)
        try examples.validate(for: model.config)
        if config.method == .dis && config.corruption == .dataset {
            let n = model.config.supervisionSteps
            guard examples.stepTargets != nil, examples.stepTargetCount == n || examples.stepTargetCount == n + 1 else {
                throw .invalidArgument(examples.stepTargets == nil
                    ? "corruption 'dataset' needs a dataset with intermediate steps (<set>__intermediate_steps.npy)"
                    : "the dataset's intermediate steps have \(examples.stepTargetCount) rows; N_sup \(n) needs \(n) or \(n + 1)")
            }
        }
        if let reducer {
            try reducer.validate(batchSize: config.batchSize)
            // Puzzle ids travel as floats in the all-reduce buffer: exact below 2^24.
            guard model.config.numPuzzleIdentifiers <= 1 << 24 else {
                throw .invalidArgument("data-parallel training needs at most 2^24 puzzle identifiers")
            }
        }
        let c = model.config, global = config.batchSize
        slice = reducer?.slice(of: global) ?? 0..<global
        let b = slice.count
        self.reducer = reducer
        self.model = model
        self.config = config
        runner = try Runner(model: model, batchSize: b)
        schedule = LearningRateSchedule(base: config.learningRate, warmupSteps: config.warmupSteps,
                                        totalSteps: config.totalSteps, minRatio: config.minLRRatio)
        sampler = BatchSampler(examples: examples, seed: config.seed &+ 0x5EED)
        rng = RNG(seed: config.seed &+ 0xD15)
        switch config.optimizer {
        case .adamATan2:
            optimizer = try AdamATan2(count: model.parameterCount, beta1: config.beta1, beta2: config.beta2,
                                  weightDecay: config.weightDecay)
        case .adamW:
            optimizer = try AdamW(count: model.parameterCount, beta1: config.beta1, beta2: config.beta2,
                              weightDecay: config.weightDecay)
        }
        if config.method == .dis {
            // DIS has no halting loss: q_head gets no gradient and, as in the official code, no update.
            let lo = model.layout.qHeadWeight, hi = model.layout.qHeadBias + 2
            precondition(lo + 2 * c.hiddenSize == model.layout.qHeadBias, "q_head weight and bias must be adjacent")
            optimizer.frozen = lo..<hi
        }
        sparse = c.puzzleEmbLen > 0 && c.puzzleEmbDim > 0
            ? try SparseSignSGD(width: c.puzzleEmbDim, maxRows: global, weightDecay: config.puzzleEmbWeightDecay) : nil
        ema = try config.emaRate.map { (rate) throws(TRMError) in try EMA(weights: model.weights, count: model.parameterCount, rate: rate) }
        inputs = try arena.int32s(b * c.seqLen)
        labels = try arena.int32s(b * c.seqLen)
        slotPuzzleIds = try arena.int32s(b)
        dis = config.method == .dis ? try DISTargets(localBatch: b, model: c, training: config, arena: arena) : nil
        predicted = try arena.int32s(b * c.seqLen)
        perExample = try arena.doubles(b)
        puzzleGradSum = try arena.floats(b * c.puzzleEmbDim)
        weightBackup = try arena.floats(model.parameterCount)
        batchExamples = try arena.int32s(global)
        let dim = sparse == nil ? 0 : c.puzzleEmbDim
        reduceBuffer = try arena.floats(reducer == nil ? 0 : model.parameterCount + global * (dim + 1))
        globalPuzzleIds = try arena.int32s(reducer == nil ? 0 : global)
        metricBuffer = try arena.floats(Trainer.metricCount + global)
        slots = try TRMSlots(globalBatch: global, localBatch: b, arena: arena)
        datasetFingerprint = examples.fingerprint
        // The protocol travels with the weights: inference and saved files follow how they were trained.
        model.trainingRecord = TrainingRecord(training: config, model: c)
    }

    /// The global batch size (all ranks together).
    public var batchSize: Int { config.batchSize }
    /// The slots this rank computes.
    public var localBatch: Int { slice.count }

    /// One training step of the configured method.
    public func trainStep() throws(TRMError) -> TrainMetrics {
        let t0 = monotonicSeconds()
        var m = try finish(config.method == .dis ? try disBatch() : try trmStep())
        m.seconds = monotonicSeconds() - t0
        m.examplesPerSecond = Double(m.finished) / max(m.seconds, 1e-9)
        m.step = optimizerSteps
        m.learningRate = schedule.rate(at: max(1, optimizerSteps))
        return m
    }

    /// Draws the next example for slot `g` of the global batch (every rank draws every slot, so the
    /// sampler stays the same on all of them) and loads it when the slot is this rank's; returns that
    /// local slot.
    @discardableResult
    func draw(globalSlot g: Int) -> Int? {
        let index = sampler.next()
        batchExamples[g] = Int32(index)
        examplesSeen += 1
        guard slice.contains(g) else { return nil }
        load(example: index, into: g - slice.lowerBound)
        return g - slice.lowerBound
    }

    /// Copies example `index` of the sampler's set into local batch slot `slot`.
    func load(example index: Int, into slot: Int) {
        let ex = sampler.examples, n = ex.seqLen
        batchExamples[slice.lowerBound + slot] = Int32(index)
        ex.inputs.withUnsafeBufferPointer { (inputs + slot * n).update(from: $0.baseAddress! + index * n, count: n) }
        ex.labels.withUnsafeBufferPointer { (labels + slot * n).update(from: $0.baseAddress! + index * n, count: n) }
        slotPuzzleIds[slot] = ex.puzzleIds[index]
    }

    /// Sums the gradients over the ranks (with a reducer), clips, then one update of the weights (and the
    /// global batch's puzzle rows), then the EMA. `puzzleGrads` holds this rank's per-slot puzzle-row
    /// gradients of this update.
    func applyUpdate(puzzleGrads: UnsafePointer<Float>) throws(TRMError) {
        var ids = UnsafePointer(slotPuzzleIds), rows = puzzleGrads, count = localBatch
        if reducer != nil {
            try reduceGradients(puzzleGrads: puzzleGrads)
            ids = UnsafePointer(globalPuzzleIds)
            rows = UnsafePointer(reduceBuffer + model.parameterCount)
            count = batchSize
        }
        if let clip = config.gradClip { clipGradientNorm(runner.gradients, count: model.parameterCount, maxNorm: clip) }
        optimizerSteps += 1
        let lr = schedule.rate(at: optimizerSteps)
        GEMMProfile.section("optimizer") { optimizer.update(params: model.weights, grads: runner.gradients, lr: lr) }
        if let sparse {
            let embLR = config.learningRate > 0 ? config.puzzleEmbLR * lr / config.learningRate : 0
            sparse.update(table: model.puzzleEmbedding, ids: ids, grads: rows, count: count, lr: embLR)
        }
        ema?.update(model.weights)
    }

    /// Runs `body` with the EMA weights in the model (if EMA is on), then puts the training weights back.
    public func withEvaluationWeights<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let ema else { return try body() }
        let n = model.parameterCount
        weightBackup.update(from: model.weights, count: n)
        model.weights.update(from: ema.shadow, count: n)
        defer { model.weights.update(from: weightBackup, count: n) }
        return try body()
    }
}
