import CTRMDIS
import FoundationEssentials
import TRMDIS

/// What a trm_trainer * points at: the engine's trainer, its model's handle, the evaluation examples, the
/// loop options and progress callback copied from the params, and a stop slot (StopRegistry).
final class TrainerHandle {
    let trainer: Trainer
    let model: ModelHandle
    let evalExamples: ExampleSet?
    let options: TrainingLoop.Options
    let progress: trm_progress_callback?
    let userData: UnsafeMutableRawPointer?
    private var slot = -1
    /// The model's handle, registered once more for this trainer (nil until `open`).
    private(set) var modelPointer: OpaquePointer?
    /// Set during trm_trainer_run and trm_trainer_step, which may not be re-entered from the callback.
    private var busy = false

    init(trainer: Trainer, model: ModelHandle, evalExamples: ExampleSet?, params p: trm_train_params,
         options: TrainingLoop.Options) {
        self.trainer = trainer
        self.model = model
        self.evalExamples = evalExamples
        self.options = options
        progress = p.progress
        userData = p.progress == nil ? nil : p.progress_user_data
    }

    /// Takes a stop slot, registers the model once more (so trm_trainer_model's handle stays valid while the
    /// trainer lives) and returns the trainer's handle.
    func open() throws(Failure) -> OpaquePointer {
        let handle = Handles.open(self)
        guard let s = StopRegistry.claim(UnsafeMutableRawPointer(handle)) else {
            _ = Handles.close(handle, as: TrainerHandle.self)
            throw Failure(TRM_ERR_OOM, "too many live trainers (at most \(StopRegistry.capacity))")
        }
        slot = s
        modelPointer = Handles.open(model)
        return handle
    }

    deinit {
        if slot >= 0 { StopRegistry.release(slot) }
        if let modelPointer { _ = Handles.close(modelPointer, as: ModelHandle.self) }
    }

    private func enter(_ what: String) throws(Failure) {
        guard !busy else {
            throw .invalid("\(what) cannot be called while the trainer is running (a trm_trainer_run or trm_trainer_step in progress, on this thread from its progress callback or on another thread)")
        }
        busy = true
    }

    /// The loop: the budget, schedule and callback of the params, the stop flag checked after every step.
    func run() throws(Failure) -> EvalReport? {
        try enter("trm_trainer_run")
        defer {
            busy = false
            StopRegistry.clear(slot)
        }
        let loop = TrainingLoop(trainer: trainer, options: options, evalExamples: evalExamples)
        let parallel = trainer.reducer != nil
        log(TRM_LOG_INFO, "trm_trainer_run: \(trainer.config.method.rawValue) on \(trainer.sampler.examples.count) examples, "
            + "batch \(trainer.batchSize), \(options.maxSteps.map { "\($0) steps" } ?? "no step limit")"
            + (options.maxSeconds.map { ", at most \($0) s" } ?? "")
            + (options.checkpointDirectory.map { ", checkpoints in \($0)" } ?? ""))
        var requested = false, callbackStopped = false, steps = 0
        if StopRegistry.isRequested(slot) {
            // Data-parallel ranks must stop together: the loop's first agreement stops them all.
            guard parallel else { throw Failure(TRM_ERR_ABORTED, "stopped by trm_trainer_request_stop before the first step") }
            loop.requestStop()
            requested = true
        }
        do {
            let report = try loop.run { progress in
                steps = progress.step
                log(TRM_LOG_DEBUG, "step \(progress.step): loss \(progress.metrics.loss), token accuracy \(progress.metrics.tokenAccuracy)")
                if let e = progress.evaluation {
                    log(TRM_LOG_INFO, "step \(progress.step): evaluation on \(e.examples) examples: exact \(e.exactAccuracy), token \(e.tokenAccuracy)")
                }
                if progress.checkpointWritten, let dir = options.checkpointDirectory {
                    log(TRM_LOG_INFO, "step \(progress.step): checkpoint written to \(dir)")
                }
                var keepGoing = true
                if let callback = self.progress {
                    var info = trm_step_info(progress.metrics, step: progress.step, totalSteps: progress.totalSteps ?? 0,
                                             elapsed: progress.elapsed, evaluation: progress.evaluation,
                                             trainer: trainer)
                    keepGoing = callback(&info, userData)
                    callbackStopped = !keepGoing
                }
                if StopRegistry.isRequested(slot) {
                    requested = true
                    return false
                }
                return keepGoing
            }
            if let dir = options.checkpointDirectory { log(TRM_LOG_INFO, "trm_trainer_run: final checkpoint written to \(dir)") }
            if let e = report { log(TRM_LOG_INFO, "trm_trainer_run: final evaluation on \(e.examples) examples: exact \(e.exactAccuracy), token \(e.tokenAccuracy)") }
            return report
        } catch {
            guard case .aborted = error else { throw Failure(error) }
            let why = requested ? "trm_trainer_request_stop"
                : callbackStopped || !parallel ? "the progress callback" : "a stop on another rank"
            throw Failure(TRM_ERR_ABORTED, "stopped by \(why) after \(steps) steps")
        }
    }

    func step() throws(Failure) -> trm_step_info {
        try enter("trm_trainer_step")
        defer { busy = false }
        let m = try engine { () throws(TRMError) in try trainer.trainStep() }
        return trm_step_info(m, step: 1, totalSteps: 1, elapsed: m.seconds, evaluation: nil, trainer: trainer)
    }

    /// An evaluation with the evaluation weights: of `examples`, or of the trainer's evaluation set (at most
    /// eval_limit examples).
    func evaluate(_ examples: ExampleSet?) throws(Failure) -> EvalReport {
        let c = trainer.model.config
        let set: ExampleSet, limit: Int?
        if let examples {
            try checkFits(examples, c, "dataset")
            (set, limit) = (examples, nil)
        } else {
            guard let evalExamples else {
                throw .invalid("dataset is NULL and the trainer has no evaluation dataset")
            }
            (set, limit) = (evalExamples, options.evalLimit)
        }
        try checkEvalSteps(c.supervisionSteps)
        let batch = min(trainer.batchSize, max(1, min(set.count, limit ?? set.count)))
        return try engine { () throws(TRMError) in
            try trainer.withEvaluationWeights { () throws(TRMError) -> EvalReport in
                try TRMDIS.evaluate(model: trainer.model, examples: set, batchSize: batch, limit: limit)
            }
        }
    }
}

@c @implementation
public func trm_trainer_create(_ model: OpaquePointer?, _ train: OpaquePointer?, _ eval: OpaquePointer?,
                               _ params: UnsafePointer<trm_train_params>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_trainer_create") { () throws(Failure) in
        let m = try Handles.model(model)
        let trainSet = try Handles.dataset(train, "train").examples
        let evalSet = try eval.map { (e) throws(Failure) in try Handles.dataset(e, "eval").examples }
        guard let out else { throw .invalid("out is NULL") }
        let p = try trainParams(params)
        let c = m.model.config
        let config = try trainingConfig(from: p, model: c)
        let options = try loopOptions(from: p, hasEval: evalSet != nil)
        if config.method == .trm && c.timeEmbedding {
            log(TRM_LOG_WARN, "trm_trainer_create: TRM-ACT on a model with a DIS step-time table trains its row 1 only"
                + " (inference repeats that); trm_model_config_for_method(&config, TRM_METHOD_TRM) builds it without one")
        }
        let group = try reducer(from: p, batchSize: config.batchSize)
        try checkFits(trainSet, c, "train")
        if let evalSet { try checkFits(evalSet, c, "eval") }
        let trainer = try engine { () throws(TRMError) in
            try Trainer(model: m.model, examples: trainSet, config: config, reducer: group)
        }
        let handle = TrainerHandle(trainer: trainer, model: m, evalExamples: evalSet, params: p, options: options)
        out.pointee = try handle.open()
    }
}

@c @implementation
public func trm_trainer_resume(_ directory: UnsafePointer<CChar>?, _ train: OpaquePointer?, _ eval: OpaquePointer?,
                               _ params: UnsafePointer<trm_train_params>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_trainer_resume") { () throws(Failure) in
        let dir = try pathArgument(directory, "directory")
        let trainSet = try Handles.dataset(train, "train").examples
        let evalSet = try eval.map { (e) throws(Failure) in try Handles.dataset(e, "eval").examples }
        guard let out else { throw .invalid("out is NULL") }
        let p = try trainParams(params)
        guard p.allow_other_dataset == 0 || p.allow_other_dataset == 1 else {
            throw .invalid("params->allow_other_dataset must be 0 or 1 (got \(p.allow_other_dataset))")
        }
        let options = try loopOptions(from: p, hasEval: evalSet != nil)
        let group = try reducer(from: p, batchSize: nil)  // the engine checks the checkpoint's batch size
        let trainer = try engine { () throws(TRMError) in
            try Trainer.resume(directory: dir, examples: trainSet, reducer: group, allowOtherDataset: p.allow_other_dataset != 0)
        }
        if let evalSet { try checkFits(evalSet, trainer.model.config, "eval") }
        let handle = TrainerHandle(trainer: trainer, model: ModelHandle(trainer.model), evalExamples: evalSet,
                                   params: p, options: options)
        out.pointee = try handle.open()
    }
}

@c @implementation
public func trm_trainer_free(_ trainer: OpaquePointer?) {
    guard let trainer else { return }
    if !Handles.close(trainer, as: TrainerHandle.self) {
        log(TRM_LOG_WARN, "trm_trainer_free: ignored a pointer that is not a live trainer")
    }
}

@c @implementation
public func trm_trainer_model(_ trainer: OpaquePointer?, _ model: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("trm_trainer_model") { () throws(Failure) in
        let t = try Handles.trainer(trainer)
        guard let model else { throw .invalid("model is NULL") }
        guard let handle = t.modelPointer else { throw Failure(TRM_ERR_INTERNAL, "the trainer has no model handle") }
        model.pointee = handle
    }
}

@c @implementation
public func trm_trainer_run(_ trainer: OpaquePointer?, _ evalOut: UnsafeMutablePointer<trm_eval_result>?) -> Int32 {
    guardedBusy("trm_trainer_run") { () throws(Failure) in
        let t = try Handles.trainer(trainer)
        if evalOut != nil { _ = try TRMDISCAPI.evalOut(evalOut, "eval_out") }
        if evalOut != nil, t.evalExamples != nil { try checkEvalSteps(t.trainer.model.config.supervisionSteps) }
        let report = try t.run()
        evalOut?.pointee = report.map { trm_eval_result($0) } ?? .none
    }
}

@c @implementation
public func trm_trainer_step(_ trainer: OpaquePointer?, _ info: UnsafeMutablePointer<trm_step_info>?) -> Int32 {
    guardedBusy("trm_trainer_step") { () throws(Failure) in
        let t = try Handles.trainer(trainer)
        if let info { try checkSize(info.pointee.struct_size, MemoryLayout<trm_step_info>.size, "info", "trm_step_info") }
        let result = try t.step()
        info?.pointee = result
    }
}

/// No lock, no allocation, no last-error message: safe from any thread and from a signal handler.
@c @implementation
public func trm_trainer_request_stop(_ trainer: OpaquePointer?) -> Int32 {
    guard let trainer, StopRegistry.requestStop(UnsafeMutableRawPointer(trainer)) else {
        return status(TRM_ERR_INVALID_ARG)
    }
    return status(TRM_OK)
}

@c @implementation
public func trm_trainer_save_checkpoint(_ trainer: OpaquePointer?, _ directory: UnsafePointer<CChar>?) -> Int32 {
    guarded("trm_trainer_save_checkpoint") { () throws(Failure) in
        let t = try Handles.trainer(trainer)
        let dir = try pathArgument(directory, "directory")
        try engine { () throws(TRMError) in try t.trainer.saveCheckpoint(directory: dir) }
    }
}

@c @implementation
public func trm_trainer_evaluate(_ trainer: OpaquePointer?, _ dataset: OpaquePointer?,
                                 _ out: UnsafeMutablePointer<trm_eval_result>?) -> Int32
{
    guardedBusy("trm_trainer_evaluate") { () throws(Failure) in
        let t = try Handles.trainer(trainer)
        let examples = try dataset.map { (d) throws(Failure) in try Handles.dataset(d).examples }
        let out = try evalOut(out, "out")
        out.pointee = trm_eval_result(try t.evaluate(examples))
    }
}
