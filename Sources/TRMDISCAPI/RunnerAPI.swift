import CTRMDIS
import TRMDIS

private let maxBatchSize = Int32(Runner.maxBatchSize)

@c @implementation
public func trm_runner_create(_ model: OpaquePointer?, _ batchSize: Int32,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_runner_create") { () throws(Failure) in
        let m = try Handles.model(model)
        guard let out else { throw .invalid("out is NULL") }
        guard batchSize >= 1 && batchSize <= maxBatchSize else {
            throw .invalid("batch_size must be in 1...\(maxBatchSize) (got \(batchSize))")
        }
        let runner = try engine { () throws(TRMError) in try Runner(model: m.model, batchSize: Int(batchSize)) }
        out.pointee = Handles.open(RunnerHandle(runner, model: m))
    }
}

@c @implementation
public func trm_runner_free(_ runner: OpaquePointer?) {
    guard let runner else { return }
    if !Handles.close(runner, as: RunnerHandle.self) {
        log(TRM_LOG_WARN, "trm_runner_free: ignored a pointer that is not a live runner")
    }
}

@c @implementation
public func trm_runner_reset_carry(_ runner: OpaquePointer?) -> Int32 {
    guarded("trm_runner_reset_carry") { () throws(Failure) in
        try Handles.runner(runner).runner.resetCarry()
    }
}

@c @implementation
public func trm_runner_step(_ runner: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ nTokens: Int,
                            _ puzzleIds: UnsafePointer<Int32>?, _ nPuzzleIds: Int, _ timeStep: Int32,
                            _ logits: UnsafeMutablePointer<Float>?, _ nLogits: Int,
                            _ qLogits: UnsafeMutablePointer<Float>?, _ nQLogits: Int) -> Int32
{
    guardedBusy("trm_runner_step") { () throws(Failure) in
        let r = try Handles.runner(runner).runner
        let c = r.model.config, b = r.batchSize
        try checkBuffer(tokens, nTokens, expected: b * c.seqLen, "tokens", "n_tokens", nullable: false)
        try checkBuffer(puzzleIds, nPuzzleIds, expected: b, "puzzle_ids", "n_puzzle_ids", nullable: true)
        try checkBuffer(logits, nLogits, expected: b * c.seqLen * c.vocabSize, "logits", "n_logits", nullable: true)
        try checkBuffer(qLogits, nQLogits, expected: b * 2, "q_logits", "n_q_logits", nullable: true)
        guard let tokens else { throw .invalid("tokens is NULL") }
        r.tokens.update(from: tokens, count: nTokens)
        if let puzzleIds { r.puzzleIds.update(from: puzzleIds, count: b) } else { r.puzzleIds.update(repeating: 0, count: b) }
        r.timeStep = Int(timeStep)
        // forward validates tokens, puzzle ids and the time step before touching the carry. On the weights packed
        // as trm_model_predict runs a small batch, so that a step loop gives its bits.
        try engine { () throws(TRMError) in try r.withPackedWeights { () throws(TRMError) in try r.forward(requiresGrad: false) } }
        logits?.update(from: r.logits, count: nLogits)
        qLogits?.update(from: r.qLogits, count: nQLogits)
    }
}

@c @implementation
public func trm_runner_net_calls(_ runner: OpaquePointer?, _ netCalls: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("trm_runner_net_calls") { () throws(Failure) in
        let r = try Handles.runner(runner).runner
        guard let netCalls else { throw .invalid("net_calls is NULL") }
        netCalls.pointee = Int64(r.netCalls)
    }
}
