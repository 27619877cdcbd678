import CTRMDIS
import TRMDIS

let trainParamsSize = MemoryLayout<trm_train_params>.size
private let maxBatchSize = Int32(Runner.maxBatchSize)

@inline(__always) private func raw<E: RawRepresentable>(_ e: E) -> Int32 where E.RawValue == UInt32 {
    Int32(bitPattern: e.rawValue)
}

@c @implementation
public func trm_train_params_init(_ params: UnsafeMutablePointer<trm_train_params>?) {
    guard let params else { return }
    var p = trm_train_params(TrainingConfig())
    p.ema_rate = -1  // the method's default, resolved by the engine when the trainer is created
    params.pointee = p
}

@c @implementation
public func trm_train_params_recipe(_ name: UnsafePointer<CChar>?, _ method: Int32,
                                    _ params: UnsafeMutablePointer<trm_train_params>?) -> Int32 {
    guarded("trm_train_params_recipe") { () throws(Failure) in
        guard let name else { throw .invalid("name is NULL") }
        guard let params else { throw .invalid("params is NULL") }
        let m = try parseMethod(method, "method")
        let text = String(cString: name)
        guard let t = TrainingConfig.recipe(text, method: m) else {
            throw .invalid("unknown recipe \"\(text.prefix(64))\" (known: \(TrainingConfig.recipes.map { "\"\($0)\"" }.joined(separator: ", ")))")
        }
        params.pointee = trm_train_params(t)
    }
}

extension trm_train_params {
    /// The C mirror of a training configuration, with the loop fields at their defaults (no limits, no
    /// evaluation or checkpoint schedule, no callback).
    init(_ t: TrainingConfig) {
        self.init()
        struct_size = trainParamsSize
        method = cMethod(t.method)
        batch_size = Int32(clamping: t.batchSize)
        seed = t.seed
        loss = t.loss == .stablemax ? raw(TRM_LOSS_STABLEMAX) : raw(TRM_LOSS_SOFTMAX)
        optimizer = t.optimizer == .adamATan2 ? raw(TRM_OPTIMIZER_ADAM_ATAN2) : raw(TRM_OPTIMIZER_ADAMW)
        learning_rate = t.learningRate
        warmup_steps = Int64(t.warmupSteps)
        total_steps = Int64(t.totalSteps)
        min_lr_ratio = t.minLRRatio
        beta1 = t.beta1
        beta2 = t.beta2
        weight_decay = t.weightDecay
        puzzle_emb_lr = t.puzzleEmbLR
        puzzle_emb_weight_decay = t.puzzleEmbWeightDecay
        grad_clip = t.gradClip ?? 0
        ema_rate = t.emaRate ?? 0
        switch t.corruption {
        case .path: corruption = raw(TRM_CORRUPTION_PATH)
        case .mask: corruption = raw(TRM_CORRUPTION_MASK)
        case .random: corruption = raw(TRM_CORRUPTION_RANDOM)
        case .dataset: corruption = raw(TRM_CORRUPTION_DATASET)
        }
        mask_token = t.maskToken
        feedback_predictions = t.feedbackPredictions ? 1 : 0
        step_weights = t.stepWeights == .constant ? raw(TRM_STEP_WEIGHTS_CONSTANT) : raw(TRM_STEP_WEIGHTS_LINEAR)
        optimizer_step_per_supervision_step = t.optimizerStepPerSupervisionStep ? 1 : 0
        halt_exploration_prob = t.haltExplorationProb
        halt_loss_weight = t.haltLossWeight
        max_steps = 0
        max_seconds = 0
        eval_every = 0
        eval_limit = 0
        checkpoint_every = 0
        checkpoint_dir = nil
        progress = nil
        progress_user_data = nil
        allow_other_dataset = 0
        rank = 0
        world_size = 1
        allreduce = nil
        allreduce_user_data = nil
    }
}

/// The engine's method for a trm_method value (argument `name`).
func parseMethod(_ value: Int32, _ name: String) throws(Failure) -> TrainingConfig.Method {
    switch value {
    case raw(TRM_METHOD_DIS): return .dis
    case raw(TRM_METHOD_TRM): return .trm
    default: throw .invalid("\(name) must be TRM_METHOD_DIS or TRM_METHOD_TRM (got \(value))")
    }
}

/// The C value of a method.
func cMethod(_ m: TrainingConfig.Method) -> Int32 { m == .dis ? raw(TRM_METHOD_DIS) : raw(TRM_METHOD_TRM) }

/// The caller's params (struct_size checked), or the defaults for NULL.
func trainParams(_ params: UnsafePointer<trm_train_params>?) throws(Failure) -> trm_train_params {
    guard let params else {
        var p = trm_train_params()
        trm_train_params_init(&p)
        return p
    }
    try checkSize(params.pointee.struct_size, trainParamsSize, "params", "trm_train_params")
    return params.pointee
}

/// The engine's training configuration for `p`, every field checked (named as in the C struct) before the
/// engine's own validation.
func trainingConfig(from p: trm_train_params, model c: ModelConfig) throws(Failure) -> TrainingConfig {
    func require(_ ok: Bool, _ message: @autoclosure () -> String) throws(Failure) {
        if !ok { throw .invalid("params->" + message()) }
    }
    func flag(_ value: Int32, _ name: String) throws(Failure) -> Bool {
        try require(value == 0 || value == 1, "\(name) must be 0 or 1 (got \(value))")
        return value == 1
    }
    func nonNegative(_ value: Float, _ name: String) throws(Failure) -> Float {
        try require(value.isFinite && value >= 0, "\(name) must be finite and >= 0 (got \(value))")
        return value
    }
    var t = TrainingConfig()
    t.method = try parseMethod(p.method, "params->method")
    try require(p.batch_size >= 1 && p.batch_size <= maxBatchSize,
                "batch_size must be in 1...\(maxBatchSize) (got \(p.batch_size))")
    t.batchSize = Int(p.batch_size)
    t.seed = p.seed
    switch p.loss {
    case raw(TRM_LOSS_STABLEMAX): t.loss = .stablemax
    case raw(TRM_LOSS_SOFTMAX): t.loss = .softmax
    default: try require(false, "loss must be TRM_LOSS_STABLEMAX or TRM_LOSS_SOFTMAX (got \(p.loss))")
    }
    switch p.optimizer {
    case raw(TRM_OPTIMIZER_ADAM_ATAN2): t.optimizer = .adamATan2
    case raw(TRM_OPTIMIZER_ADAMW): t.optimizer = .adamW
    default: try require(false, "optimizer must be TRM_OPTIMIZER_ADAM_ATAN2 or TRM_OPTIMIZER_ADAMW (got \(p.optimizer))")
    }
    t.learningRate = try nonNegative(p.learning_rate, "learning_rate")
    try require(p.warmup_steps >= 0 && p.warmup_steps <= Int64(Int32.max),
                "warmup_steps must be in 0...\(Int32.max) (got \(p.warmup_steps))")
    try require(p.total_steps >= 1 && p.total_steps <= Int64(Int32.max),
                "total_steps must be in 1...\(Int32.max) (got \(p.total_steps))")
    t.warmupSteps = Int(p.warmup_steps)
    t.totalSteps = Int(p.total_steps)
    try require(p.min_lr_ratio >= 0 && p.min_lr_ratio <= 1, "min_lr_ratio must be in [0, 1] (got \(p.min_lr_ratio))")
    t.minLRRatio = p.min_lr_ratio
    try require(p.beta1 >= 0 && p.beta1 < 1, "beta1 must be in [0, 1) (got \(p.beta1))")
    try require(p.beta2 >= 0 && p.beta2 < 1, "beta2 must be in [0, 1) (got \(p.beta2))")
    t.beta1 = p.beta1
    t.beta2 = p.beta2
    t.weightDecay = try nonNegative(p.weight_decay, "weight_decay")
    t.puzzleEmbLR = try nonNegative(p.puzzle_emb_lr, "puzzle_emb_lr")
    t.puzzleEmbWeightDecay = try nonNegative(p.puzzle_emb_weight_decay, "puzzle_emb_weight_decay")
    try require(p.grad_clip == 0 || (p.grad_clip > 0 && p.grad_clip.isFinite),
                "grad_clip must be 0 (off) or finite and > 0 (got \(p.grad_clip))")
    t.gradClip = p.grad_clip == 0 ? nil : p.grad_clip
    try require(p.ema_rate == -1 || p.ema_rate == 0 || (p.ema_rate > 0 && p.ema_rate < 1),
                "ema_rate must be -1 (the method's default), 0 (off) or in (0, 1) (got \(p.ema_rate))")
    t.emaRate = p.ema_rate == -1 ? TrainingConfig(method: t.method).emaRate : p.ema_rate == 0 ? nil : p.ema_rate
    switch p.corruption {
    case raw(TRM_CORRUPTION_PATH): t.corruption = .path
    case raw(TRM_CORRUPTION_MASK): t.corruption = .mask
    case raw(TRM_CORRUPTION_RANDOM): t.corruption = .random
    case raw(TRM_CORRUPTION_DATASET): t.corruption = .dataset
    default: try require(false, "corruption must be a trm_corruption (got \(p.corruption))")
    }
    if t.corruption == .mask {
        try require(p.mask_token >= 0 && Int(p.mask_token) < c.vocabSize,
                    "mask_token must be inside the model's vocabulary [0, \(c.vocabSize)) (got \(p.mask_token))")
    }
    t.maskToken = p.mask_token
    t.feedbackPredictions = try flag(p.feedback_predictions, "feedback_predictions")
    switch p.step_weights {
    case raw(TRM_STEP_WEIGHTS_CONSTANT): t.stepWeights = .constant
    case raw(TRM_STEP_WEIGHTS_LINEAR): t.stepWeights = .linear
    default: try require(false, "step_weights must be a trm_step_weights (got \(p.step_weights))")
    }
    t.optimizerStepPerSupervisionStep = try flag(p.optimizer_step_per_supervision_step,
                                                 "optimizer_step_per_supervision_step")
    try require(p.halt_exploration_prob >= 0 && p.halt_exploration_prob <= 1,
                "halt_exploration_prob must be in [0, 1] (got \(p.halt_exploration_prob))")
    t.haltExplorationProb = p.halt_exploration_prob
    t.haltLossWeight = try nonNegative(p.halt_loss_weight, "halt_loss_weight")
    do throws(TRMError) {
        try t.validate(for: c)
    } catch {
        guard case .invalidArgument(let message) = error else { throw Failure(error) }
        throw .invalid("params: " + message)
    }
    return t
}

/// The loop fields of `p`.
func loopOptions(from p: trm_train_params, hasEval: Bool) throws(Failure) -> TrainingLoop.Options {
    func count(_ value: Int64, _ name: String) throws(Failure) -> Int {
        guard value >= 0 else { throw .invalid("params->\(name) must be >= 0 (got \(value))") }
        return Int(value)
    }
    var o = TrainingLoop.Options()
    let maxSteps = try count(p.max_steps, "max_steps")
    o.maxSteps = maxSteps == 0 ? nil : maxSteps
    guard p.max_seconds.isFinite && p.max_seconds >= 0 else {
        throw .invalid("params->max_seconds must be finite and >= 0 (got \(p.max_seconds))")
    }
    o.maxSeconds = p.max_seconds == 0 ? nil : p.max_seconds
    o.evalEvery = try count(p.eval_every, "eval_every")
    let limit = try count(p.eval_limit, "eval_limit")
    o.evalLimit = limit == 0 ? nil : limit
    o.checkpointEvery = try count(p.checkpoint_every, "checkpoint_every")
    if let dir = p.checkpoint_dir { o.checkpointDirectory = try pathArgument(dir, "params->checkpoint_dir") }
    if o.checkpointEvery > 0 && o.checkpointDirectory == nil {
        throw .invalid("params->checkpoint_every is \(o.checkpointEvery) but params->checkpoint_dir is NULL")
    }
    if o.evalEvery > 0 && !hasEval {
        throw .invalid("params->eval_every is \(o.evalEvery) but there is no evaluation dataset")
    }
    return o
}

extension trm_step_info {
    /// The C record of one step's report.
    init(_ m: TrainMetrics, step: Int, totalSteps: Int, elapsed: Double, evaluation: EvalReport?, trainer: Trainer) {
        self.init()
        struct_size = MemoryLayout<trm_step_info>.size
        self.step = Int64(step)
        total_steps = Int64(totalSteps)
        optimizer_steps = Int64(trainer.optimizerSteps)
        examples_seen = Int64(trainer.examplesSeen)
        finished = Int64(m.finished)
        self.elapsed = elapsed
        loss = m.loss
        token_accuracy = m.tokenAccuracy
        exact_accuracy = m.exactAccuracy
        halt_accuracy = m.haltAccuracy ?? .nan
        mean_steps = m.meanSteps ?? .nan
        net_calls_per_example = m.netCallsPerExample
        examples_per_second = m.examplesPerSecond
        learning_rate = Double(m.learningRate)
        has_eval = evaluation == nil ? 0 : 1
        eval_exact_accuracy = evaluation?.exactAccuracy ?? .nan
        eval_token_accuracy = evaluation?.tokenAccuracy ?? .nan
    }
}
