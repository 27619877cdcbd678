import CTRMDIS
import TRMDIS

private let maxBatchSize: Int32 = 1 << 20

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

/// Checks that a caller buffer's length matches `expected`; a NULL buffer must come with length 0.
private func checkLength(_ pointer: UnsafeRawPointer?, _ count: Int, expected: Int, _ name: String,
                         nullable: Bool) throws(Failure)
{
    if pointer == nil {
        guard nullable else { throw .invalid("\(name) is NULL") }
        guard count == 0 else { throw .invalid("\(name) is NULL but n_\(name) is \(count) (must be 0)") }
    } else if count != expected {
        throw .invalid("n_\(name) is \(count), expected \(expected)")
    }
}

@c @implementation
public func trm_runner_step(_ runner: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ nTokens: Int,
                            _ puzzleIds: UnsafePointer<Int32>?, _ nPuzzleIds: Int, _ timeStep: Int32,
                            _ logits: UnsafeMutablePointer<Float>?, _ nLogits: Int,
                            _ qLogits: UnsafeMutablePointer<Float>?, _ nQLogits: Int) -> Int32
{
    guarded("trm_runner_step") { () throws(Failure) in
        let r = try Handles.runner(runner).runner
        let c = r.model.config, b = r.batchSize
        try checkLength(tokens, nTokens, expected: b * c.seqLen, "tokens", nullable: false)
        try checkLength(puzzleIds, nPuzzleIds, expected: b, "puzzle_ids", nullable: true)
        try checkLength(logits, nLogits, expected: b * c.seqLen * c.vocabSize, "logits", nullable: true)
        try checkLength(qLogits, nQLogits, expected: b * 2, "q_logits", nullable: true)
        guard let tokens else { throw .invalid("tokens is NULL") }
        r.tokens.update(from: tokens, count: nTokens)
        if let puzzleIds { r.puzzleIds.update(from: puzzleIds, count: b) } else { r.puzzleIds.update(repeating: 0, count: b) }
        r.timeStep = Int(timeStep)
        // forward validates tokens, puzzle ids and the time step before touching the carry.
        try engine { () throws(TRMError) in try r.forward(requiresGrad: false) }
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
