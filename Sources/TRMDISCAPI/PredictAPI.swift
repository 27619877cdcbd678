#if canImport(Glibc)
import Glibc
#endif
import CTRMDIS
import TRMDIS

private let maxSteps = Int(TRM_MAX_STEPS)
private let maxBatchSize = Runner.maxBatchSize
private let defaultBatchSize = 64
let evalMaxSteps = Int(TRM_EVAL_MAX_STEPS)

/// The C value of a time-row choice.
func cTimeRows(_ rows: TrainingRecord.TimeRows) -> Int32 {
    Int32(bitPattern: (rows == .perStep ? TRM_TIME_ROWS_PER_STEP : TRM_TIME_ROWS_FIRST).rawValue)
}

@c @implementation
public func trm_predict_params_init(_ params: UnsafeMutablePointer<trm_predict_params>?) {
    guard let params else { return }
    var p = trm_predict_params()
    p.struct_size = MemoryLayout<trm_predict_params>.size
    p.steps = 0
    p.guidance = 1
    p.feedback = -1
    p.batch_size = 0
    p.time_rows = -1
    p.progress = nil
    p.progress_user_data = nil
    params.pointee = p
}

/// How to run inference: the engine's options, the step count and the batch size for `count` examples.
struct Inference {
    var options: InferenceOptions
    var steps: Int
    var batchSize: Int

    init(_ params: UnsafePointer<trm_predict_params>?, model c: ModelConfig, examples count: Int) throws(Failure) {
        var p = trm_predict_params()
        trm_predict_params_init(&p)
        if let params {
            try checkSize(params.pointee.struct_size, MemoryLayout<trm_predict_params>.size, "params",
                          "trm_predict_params")
            p = params.pointee
        }
        guard p.steps >= 0 && Int(p.steps) <= maxSteps else {
            throw .invalid("params->steps must be in 0...\(maxSteps) (0 = the model's \(c.supervisionSteps)); got \(p.steps)")
        }
        guard p.guidance.isFinite else { throw .invalid("params->guidance must be finite (got \(p.guidance))") }
        guard (-1...1).contains(p.feedback) else {
            throw .invalid("params->feedback must be -1 (model default), 0 or 1 (got \(p.feedback))")
        }
        guard p.batch_size >= 0 && Int(p.batch_size) <= maxBatchSize else {
            throw .invalid("params->batch_size must be in 0...\(maxBatchSize) (0 = automatic); got \(p.batch_size)")
        }
        guard p.time_rows == -1 || p.time_rows == cTimeRows(.perStep) || p.time_rows == cTimeRows(.first) else {
            throw .invalid("params->time_rows must be -1 (as trained) or a trm_time_rows (got \(p.time_rows))")
        }
        steps = p.steps == 0 ? c.supervisionSteps : Int(p.steps)
        options = InferenceOptions(steps: steps, guidance: p.guidance,
                                   feedbackPredictions: p.feedback >= 0 ? p.feedback == 1 : nil,
                                   timeRows: p.time_rows == -1 ? nil : p.time_rows == cTimeRows(.perStep) ? .perStep : .first)
        batchSize = min(p.batch_size == 0 ? defaultBatchSize : Int(p.batch_size), max(1, count))
        progress = p.progress
        userData = p.progress_user_data
    }

    let progress: trm_predict_callback?
    let userData: UnsafeMutableRawPointer?

    /// The engine's per-batch hook: calls the caller's progress callback, which may stop the call.
    var onBatch: ((Int, Int) -> Bool)? {
        guard let progress else { return nil }
        let userData = self.userData
        return { done, total in progress(Int64(done), Int64(total), userData) }
    }
}

@c @implementation
public func trm_model_predict(_ model: OpaquePointer?, _ params: UnsafePointer<trm_predict_params>?,
                              _ inputs: UnsafePointer<Int32>?, _ nCells: Int, _ puzzleIds: UnsafePointer<Int32>?,
                              _ nExamples: Int, _ traceOut: UnsafeMutablePointer<Int32>?, _ nTrace: Int,
                              _ haltOut: UnsafeMutablePointer<Float>?, _ nHalt: Int,
                              _ logitsOut: UnsafeMutablePointer<Float>?, _ nLogits: Int) -> Int32
{
    guardedBusy("trm_model_predict") { () throws(Failure) in
        let m = try Handles.model(model).model
        let c = m.config, n = c.seqLen
        guard nExamples >= 1 else { throw .invalid("n_examples must be at least 1 (got \(UInt(bitPattern: nExamples)))") }
        let cells = try checkedProduct([nExamples, n], "n_examples * seq_len")
        try checkBuffer(inputs, nCells, expected: cells, "inputs", "n_cells", nullable: false)
        guard let inputs else { throw .invalid("inputs is NULL") }
        let run = try Inference(params, model: c, examples: nExamples)
        let steps = run.steps
        try checkBuffer(traceOut, nTrace, expected: try checkedProduct([steps, cells], "steps * n_cells"), "trace_out", "n_trace",
                        nullable: true)
        try checkBuffer(haltOut, nHalt, expected: try checkedProduct([steps, nExamples], "steps * n_examples"), "halt_prob_out",
                        "n_halt",
                        nullable: true)
        try checkBuffer(logitsOut, nLogits, expected: try checkedProduct([cells, c.vocabSize], "n_cells * vocab_size"),
                        "final_logits_out", "n_logits", nullable: true)
        // Every input is checked here, so no batch fails after an earlier one has written its outputs.
        if let i = (0..<cells).first(where: { inputs[$0] < 0 || Int(inputs[$0]) >= c.vocabSize }) {
            throw .invalid("token \(inputs[i]) at cell \(i) (example \(i / n)) is outside [0, \(c.vocabSize))")
        }
        if c.puzzleEmbLen > 0, let puzzleIds,
           let e = (0..<nExamples).first(where: { puzzleIds[$0] < 0 || Int(puzzleIds[$0]) >= c.numPuzzleIdentifiers }) {
            throw .invalid("puzzle id \(puzzleIds[e]) of example \(e) is outside [0, \(c.numPuzzleIdentifiers))")
        }
        try engine { () throws(TRMError) in
            let predictor = try Predictor(model: m, batchSize: run.batchSize)
            try predictor.runAll(inputs: inputs, puzzleIds: puzzleIds, count: nExamples,
                                 options: run.options) { (start, count, r) throws(TRMError) in
                let s = r.step - 1
                if let traceOut {
                    (traceOut + (s * nExamples + start) * n).update(from: r.predictions, count: count * n)
                }
                if let haltOut {
                    for e in 0..<count { haltOut[s * nExamples + start + e] = 1 / (1 + expf(-r.qLogits[2 * e])) }
                }
                if let logitsOut, r.step == steps {
                    (logitsOut + start * n * c.vocabSize).update(from: r.logits, count: count * n * c.vocabSize)
                }
                if r.step == steps, let onBatch = run.onBatch, !onBatch(start + count, nExamples) {
                    throw .aborted("stopped by the progress callback after \(start + count) of \(nExamples) examples")
                }
            }
        }
    }
}

@c @implementation
public func trm_model_evaluate(_ model: OpaquePointer?, _ dataset: OpaquePointer?,
                               _ params: UnsafePointer<trm_predict_params>?,
                               _ out: UnsafeMutablePointer<trm_eval_result>?) -> Int32
{
    guardedBusy("trm_model_evaluate") { () throws(Failure) in
        let m = try Handles.model(model).model
        let d = try Handles.dataset(dataset)
        let out = try evalOut(out, "out")
        try checkFits(d.examples, m.config, "dataset")
        let run = try Inference(params, model: m.config, examples: d.examples.count)
        try checkEvalSteps(run.steps)
        let report = try engine { () throws(TRMError) in
            try evaluate(model: m, examples: d.examples, batchSize: run.batchSize, options: run.options,
                         onBatch: run.onBatch)
        }
        out.pointee = trm_eval_result(report)
    }
}

/// A caller's trm_eval_result, its struct_size checked.
func evalOut(_ out: UnsafeMutablePointer<trm_eval_result>?, _ name: String) throws(Failure)
    -> UnsafeMutablePointer<trm_eval_result>
{
    guard let out else { throw .invalid("\(name) is NULL") }
    try checkSize(out.pointee.struct_size, MemoryLayout<trm_eval_result>.size, name, "trm_eval_result")
    return out
}

func checkEvalSteps(_ steps: Int) throws(Failure) {
    guard steps <= evalMaxSteps else {
        throw .invalid("an evaluation reports at most TRM_EVAL_MAX_STEPS = \(evalMaxSteps) supervision steps "
            + "(asked for \(steps))")
    }
}

extension trm_eval_result {
    /// The C record of a report (at most TRM_EVAL_MAX_STEPS steps, checked before evaluating).
    init(_ r: EvalReport) {
        self.init()
        struct_size = MemoryLayout<trm_eval_result>.size
        examples = Int64(r.examples)
        exact_accuracy = r.exactAccuracy
        token_accuracy = r.tokenAccuracy
        net_calls_per_example = Double(r.netCallsPerExample)
        seconds = r.seconds
        let steps = min(r.perStep.count, evalMaxSteps)
        n_steps = Int32(steps)
        func fill<T>(_ tuple: inout T, _ value: (EvalReport.Step) -> Double) {
            withUnsafeMutableBytes(of: &tuple) { raw in
                let values = raw.bindMemory(to: Double.self)
                for i in 0..<steps { values[i] = value(r.perStep[i]) }
            }
        }
        fill(&exact_by_step) { $0.exactAccuracy }
        fill(&token_by_step) { $0.tokenAccuracy }
        fill(&hamming_by_step) { $0.meanHamming }
    }

    /// The record of "no evaluation": zero examples and steps.
    static var none: trm_eval_result {
        var r = trm_eval_result()
        r.struct_size = MemoryLayout<trm_eval_result>.size
        return r
    }
}
