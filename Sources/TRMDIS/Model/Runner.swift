/// Runs supervision steps of one model for a fixed batch size. It owns everything that depends on the
/// batch: the inputs, the carried (y, z), the activations of the gradient-bearing cycle, the outputs and
/// the gradients, all allocated once here; a step allocates nothing (docs/engine.md, Memory).
///
/// One supervision step (docs/model.md: The recursion): x = embed(tokens); T−1 cycles without gradient, then one with:
/// z ← net(z, y + x) n times, then y ← net(y, z); logits = lm_head(y) on the grid; q = q_head(y[0]).
/// `backward()` propagates dLogits and dQ through the last cycle's n+1 net calls into every weight,
/// the embeddings and x. The carry is detached between steps.
public final class Runner {
    public let model: Model
    public let batchSize: Int
    private let arena = Arena()
    private let shapes: Block.Shapes
    private let blocks: [Block]
    private let embedding: InputEmbedding
    private let heads: Heads

    // Inputs, filled by the caller before `forward`.
    /// [B, seqLen] token ids in 0..<vocabSize.
    public let tokens: UnsafeMutablePointer<Int32>
    /// [B] puzzle identifiers in 0..<numPuzzleIdentifiers (ignored without a puzzle prefix).
    public let puzzleIds: UnsafeMutablePointer<Int32>
    /// The 1-based DIS supervision step, which selects the time-embedding row (0...N_sup+1).
    public var timeStep = 1

    // The carry, [B, L, D] each.
    package let y: UnsafeMutablePointer<Float>
    package let z: UnsafeMutablePointer<Float>

    // Outputs.
    /// [B, seqLen, vocab]
    public let logits: UnsafeMutablePointer<Float>
    /// [B, 2]: q_halt, q_continue.
    public let qLogits: UnsafeMutablePointer<Float>
    /// x = embed(tokens) of the current forward, [B, L, D]. It lives in the y-update's input buffer of the
    /// gradient-bearing cycle: every z-update has read x before the y-update's input is formed there, and
    /// the calls without gradient use the first call's buffers, so x needs no memory of its own.
    private let x: UnsafeMutablePointer<Float>

    // Gradients: the caller writes dLogits and dQ, `backward` accumulates into `gradients`.
    public let dLogits: UnsafeMutablePointer<Float>
    public let dQ: UnsafeMutablePointer<Float>
    /// Same layout as `model.weights`; accumulated by `backward`, cleared by `zeroGradients`.
    public let gradients: UnsafeMutablePointer<Float>
    /// [B, puzzleEmbDim]: the gradient of each example's puzzle-embedding row (overwritten by backward).
    package let puzzleGradients: UnsafeMutablePointer<Float>
    /// The gradient of x in backward, [B, L, D]: the y-update's input buffer again, dead once that call's
    /// backward has read it (the embedding's backward reads the tokens, not x).
    private var dX: UnsafeMutablePointer<Float> { x }

    /// Bytes of the activations kept for backward: the inputs and saved buffers of the gradient-bearing
    /// cycle's n+1 net calls (the benchmark's memory yardstick, with parameters and optimiser state).
    package let activationBytes: Int

    /// Network applications (net calls) each example has gone through since the last full carry reset.
    public private(set) var netCalls = 0

    private struct Call { let input: UnsafeMutablePointer<Float>; let blocks: [Block.Saved] }
    private let gradCalls: [Call]      // the n+1 net calls of the gradient-bearing cycle
    /// Reused by every call without gradient. It borrows the first gradient call's buffers: the free
    /// cycles run before the gradient-bearing cycle writes them, and a forward without gradient drops
    /// the graph anyway, so one set of activation memory serves both.
    private let scratchCall: Call
    private let scratch: Block.Scratch
    private let dFlow: UnsafeMutablePointer<Float>
    private var haveGraph = false
    /// The blocks' channel weights (attention's qkv and o, SwiGLU's gate_up and down) in the engine's panels, at
    /// the offsets of `model.weights`, for a runner of few rows on a CPU with the engine's own products or any
    /// runner on AVX-512 (`SmallGEMM.takesPackedWeights`); nil otherwise. Current inside `withPackedWeights`, and
    /// in a step that packs them itself (`packsEveryStep`).
    private let panels: UnsafeMutablePointer<Float>?
    private var panelsCurrent = false
    private let packJobs: [(source: Int, offset: Int, n: Int, k: Int)]
    /// Each block's W_o (attention) and W_down as B [out, in] in the engine's panels, for the input gradients of a
    /// training step on packed weights (`packsEveryStep`): at `backwardOffsets[l]` in `backwardPanels`, packed
    /// with the forward's panels by a step with the graph. Only where the forward's panels are packed per step.
    private let backwardPanels: UnsafeMutablePointer<Float>?
    private let backwardOffsets: [(o: Int?, down: Int)]
    private let backwardJobs: [(source: Int, offset: Int, n: Int, k: Int)]
    private var backwardPanelsCurrent = false
    /// Whether every step runs its forward products on packed weights, packing them itself outside
    /// `withPackedWeights` (`SmallGEMM.trainsOnPackedWeights`); tests turn it off to compare with OpenBLAS's products.
    package var packsEveryStep = SmallGEMM.trainsOnPackedWeights

    public init(model: Model, batchSize: Int) throws(TRMError) {
        guard batchSize >= 1 && batchSize <= Runner.maxBatchSize else {
            throw .invalidArgument("batch size must be in 1...\(Runner.maxBatchSize) (got \(batchSize))")
        }
        let c = model.config
        try Runner.checkAddressable(c, batch: batchSize)
        try BLASRuntime.require()  // OpenBLAS is loaded at first use; without it no product can run
        self.model = model
        self.batchSize = batchSize
        let blockShapes = Block.Shapes(c, batch: batchSize)
        shapes = blockShapes
        blocks = model.layout.blocks.map { Block(shapes: blockShapes, offsets: $0) }
        embedding = InputEmbedding(config: c, batch: batchSize, layout: model.layout)
        heads = Heads(config: c, batch: batchSize, layout: model.layout)
        let n = batchSize * c.totalLen * c.hiddenSize
        tokens = try arena.int32s(batchSize * c.seqLen)
        puzzleIds = try arena.int32s(batchSize)
        y = try arena.floats(n)
        z = try arena.floats(n)
        logits = try arena.floats(batchSize * c.seqLen * c.vocabSize)
        qLogits = try arena.floats(batchSize * 2)
        dLogits = try arena.floats(batchSize * c.seqLen * c.vocabSize)
        dQ = try arena.floats(batchSize * 2)
        gradients = try arena.floats(model.layout.total)
        puzzleGradients = try arena.floats(batchSize * c.puzzleEmbDim)
        dFlow = try arena.floats(n)
        let arena = self.arena
        let before = arena.bytes
        gradCalls = try (0...c.lCycles).map { (_) throws(TRMError) in
            Call(input: try arena.floats(n),
                 blocks: try (0..<c.numLayers).map { (_) throws(TRMError) in try Block.Saved(blockShapes, arena: arena) })
        }
        activationBytes = arena.bytes - before
        x = gradCalls[c.lCycles].input  // lCycles >= 1: never the first call's, which the free cycles reuse
        scratchCall = Call(input: gradCalls[0].input, blocks: [gradCalls[0].blocks[0]])
        scratch = try Block.Scratch(blockShapes, arena: arena)
        panels = SmallGEMM.takesPackedWeights(rows: blockShapes.rows) ? try arena.floats(model.layout.total) : nil
        packJobs = Runner.packedMatrices(model)
        (backwardOffsets, backwardJobs) = Runner.backwardMatrices(model)
        backwardPanels = SmallGEMM.trainsOnPackedWeights
            ? try arena.floats(backwardJobs.reduce(0) { $0 + $1.n * $1.k }) : nil
        resetCarry()
    }

    /// The largest batch a runner takes (every front door's limit).
    public static let maxBatchSize = 1 << 20

    /// Refuses shapes whose largest buffers could not be addressed (an element count beyond 2^48), before
    /// any size is computed with arithmetic that would overflow; the arena checks what does fit against
    /// the memory left (MemoryBudget).
    static func checkAddressable(_ c: ModelConfig, batch b: Int) throws(TRMError) {
        let widest = max(3 * c.hiddenSize, 2 * c.mlpInner, c.vocabSize)
        let products = [[b, c.totalLen, widest], [b, c.numHeads, c.totalLen, c.totalLen],
                        [b, c.hiddenSize, 2 * c.tokenMixerInner], [Threads.count, c.totalLen, c.totalLen + c.headDim]]
        for factors in products {
            var n = 1
            for f in factors {
                let r = n.multipliedReportingOverflow(by: f)
                guard !r.overflow, r.partialValue <= 1 << 48 else {
                    throw .outOfMemory("a runner of batch size \(b) for this configuration needs buffers of more than 2^48 elements")
                }
                n = r.partialValue
            }
        }
    }

    /// Bytes of activation, gradient and carry memory this runner holds.
    package var memoryBytes: Int { arena.bytes }

    /// Starts every slot afresh: y ← H_init and z ← L_init at every position (docs/model.md: The recursion).
    public func resetCarry() {
        for b in 0..<batchSize { resetCarry(slot: b) }
        netCalls = 0
    }

    /// Starts one batch slot afresh.
    public func resetCarry(slot b: Int) {
        let c = model.config, d = c.hiddenSize, len = c.totalLen
        for t in 0..<len {
            (y + (b * len + t) * d).update(from: model.hInit, count: d)
            (z + (b * len + t) * d).update(from: model.lInit, count: d)
        }
    }

    public func zeroGradients() { Kernels.zero(gradients, model.layout.total) }

    /// Checks the inputs against the vocabulary, the puzzle table and the time table.
    package func validateInputs() throws(TRMError) {
        let c = model.config
        for i in 0..<batchSize * c.seqLen where tokens[i] < 0 || Int(tokens[i]) >= c.vocabSize {
            throw .invalidArgument("token \(tokens[i]) at index \(i) is outside [0, \(c.vocabSize))")
        }
        if c.puzzleEmbLen > 0 {
            for b in 0..<batchSize where puzzleIds[b] < 0 || Int(puzzleIds[b]) >= c.numPuzzleIdentifiers {
                throw .invalidArgument("puzzle id \(puzzleIds[b]) of example \(b) is outside [0, \(c.numPuzzleIdentifiers))")
            }
        }
        if c.timeEmbedding && !(0..<c.timeEmbeddingRows).contains(timeStep) {
            throw .invalidArgument("time step \(timeStep) is outside [0, \(c.timeEmbeddingRows))")
        }
    }

    /// One supervision step. With `requiresGrad`, the last cycle's activations are kept for `backward`.
    public func forward(requiresGrad: Bool) throws(TRMError) {
        try validateInputs()
        let c = model.config, n = batchSize * c.totalLen * c.hiddenSize
        let w = model.weights
        embedding.forward(tokens: tokens, puzzleIds: puzzleIds, timeStep: timeStep, weights: w,
                          puzzleTable: model.puzzleEmbedding, x: x)
        let freeCycles = requiresGrad ? c.hCycles - 1 : c.hCycles
        // The calls run on the weights packed once by `withPackedWeights`; on AVX-512 a step outside it (a
        // training step: the optimiser changed them since the last) packs them here for all its calls, so that a
        // step gives the same bits with and without the graph.
        let packsHere = packsEveryStep && panels != nil && !panelsCurrent
        if packsHere { packWeights() }
        backwardPanelsCurrent = packsHere && requiresGrad && backwardPanels != nil
        if backwardPanelsCurrent { packBackwardWeights() }
        let packed = panelsCurrent || packsHere ? UnsafePointer(panels) : nil
        for _ in 0..<freeCycles {
            for _ in 0..<c.lCycles {
                Kernels.add3(z, y, x, scratchCall.input, n)
                runNet(scratchCall, into: z, packed: packed, keepsGraph: false)
            }
            Kernels.add(y, z, scratchCall.input, n)
            runNet(scratchCall, into: y, packed: packed, keepsGraph: false)
        }
        if requiresGrad {
            var zCurrent = UnsafePointer(z)
            for i in 0..<c.lCycles {
                Kernels.add3(zCurrent, y, x, gradCalls[i].input, n)
                zCurrent = UnsafePointer(runNet(gradCalls[i], into: nil, packed: packed))
            }
            Kernels.add(y, zCurrent, gradCalls[c.lCycles].input, n)
            let yNew = runNet(gradCalls[c.lCycles], into: nil, packed: packed)
            Kernels.copy(zCurrent, z, n)
            Kernels.copy(yNew, y, n)
        }
        haveGraph = requiresGrad
        netCalls += c.netCallsPerStep
        heads.forward(y, weights: w, logits: logits, q: qLogits)
        // NaN or infinity here comes from diverged training or corrupt weights: stop instead of carrying on.
        let cells = batchSize * c.seqLen * c.vocabSize
        if let i = (0..<cells).first(where: { !logits[$0].isFinite }) {
            throw .numerical("a supervision step produced the logit \(logits[i]) (example \(i / (c.seqLen * c.vocabSize)));"
                + " the weights or the carry are not finite or too large")
        }
    }

    /// The heads applied to the current carry y without running a step: the logits before a step
    /// (l_u of the DIS guidance, docs/model.md: Inference). `logits` [B, seqLen, vocab], `q` [B, 2].
    package func readout(logits: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>) {
        heads.forward(y, weights: model.weights, logits: logits, q: q)
    }

    /// Whether `withPackedWeights` packs the weights for this runner (few rows on a CPU with AVX2 and FMA, any on
    /// AVX-512).
    public var packsWeights: Bool { panels != nil }

    /// Runs `body` with the forward passes without gradient on the weights packed once, here, into the engine's
    /// panels, where this runner takes them (`panels`): inference on a few puzzles, whose products then skip
    /// OpenBLAS's packing on every call (docs/performance.md, "Batch 1 on packed weights"). The weights must
    /// not change inside `body`: the passes read the copy made on entry. `Predictor` runs every prediction
    /// this way; a step loop of `forward(requiresGrad: false)` inside it gives a prediction's bits.
    public func withPackedWeights<R>(_ body: () throws(TRMError) -> R) throws(TRMError) -> R {
        guard panels != nil else { return try body() }
        packWeights()
        panelsCurrent = true
        defer { panelsCurrent = false }
        return try body()
    }

    /// The matrices `packWeights` copies, each W [n, k] to the panels at its own offset in the weights.
    private static func packedMatrices(_ model: Model) -> [(source: Int, offset: Int, n: Int, k: Int)] {
        let c = model.config, d = c.hiddenSize, inner = c.mlpInner
        var jobs: [(source: Int, offset: Int, n: Int, k: Int)] = []
        for o in model.layout.blocks {
            if o.qkv >= 0 { jobs.append((o.qkv, o.qkv, 3 * d, d)) }
            if o.o >= 0 { jobs.append((o.o, o.o, d, d)) }
            jobs.append((o.gateUp, o.gateUp, 2 * inner, d))
            jobs.append((o.down, o.down, d, inner))
        }
        return jobs
    }

    /// The matrices of `backwardPanels`: each block's (o and) down offsets there, and the copies to make.
    private static func backwardMatrices(_ model: Model)
        -> ([(o: Int?, down: Int)], [(source: Int, offset: Int, n: Int, k: Int)]) {
        let c = model.config, d = c.hiddenSize, inner = c.mlpInner
        var offsets: [(o: Int?, down: Int)] = [], jobs: [(source: Int, offset: Int, n: Int, k: Int)] = []
        var next = 0
        for o in model.layout.blocks {
            var oOffset: Int? = nil
            if o.o >= 0 {
                oOffset = next
                jobs.append((o.o, next, d, d))
                next += d * d
            }
            offsets.append((oOffset, next))
            jobs.append((o.down, next, inner, d))  // W_down [d, inner]: B with n = inner, k = d
            next += d * inner
        }
        return (offsets, jobs)
    }

    /// Copies W_o and W_down of every block into `backwardPanels` as B.
    private func packBackwardWeights() {
        if let backwardPanels { Runner.pack(backwardJobs, from: model.weights, into: backwardPanels, transposed: false) }
    }

    /// Copies the blocks' channel weights into `panels`.
    private func packWeights() {
        if let panels { Runner.pack(packJobs, from: model.weights, into: panels, transposed: true) }
    }

    /// Packs each job's matrix from `weights + source` into `panels + offset` (`SmallGEMM.packNT` when
    /// `transposed`, else `packNN`), the matrices shared out across the pool.
    private static func pack(_ jobs: [(source: Int, offset: Int, n: Int, k: Int)], from weights: UnsafePointer<Float>,
                             into panels: UnsafeMutablePointer<Float>, transposed: Bool) {
        jobs.withUnsafeBufferPointer { jobs in
            Threads.pool.parallelFor(jobs.count, (jobs, weights, panels, transposed)) { args, range in
                let (jobs, w, panels, transposed) = args
                for j in range {
                    let (source, offset, n, k) = jobs[j]
                    if transposed { SmallGEMM.packNT(w + source, n: n, k: k, into: panels + offset) }
                    else { SmallGEMM.packNN(w + source, n: n, k: k, into: panels + offset) }
                }
            }
        }
    }

    /// Applies the blocks to call.input; with one Saved (no gradient) every layer reuses it. `keepsGraph`: false
    /// where no backward follows (`Block.forward`).
    @discardableResult
    private func runNet(_ call: Call, into destination: UnsafeMutablePointer<Float>?,
                        packed: UnsafePointer<Float>? = nil, keepsGraph: Bool = true) -> UnsafeMutablePointer<Float> {
        var input = UnsafePointer(call.input)
        for (l, block) in blocks.enumerated() {
            let saved = call.blocks[min(l, call.blocks.count - 1)]
            block.forward(input, weights: model.weights, rope: model.rope, saved: saved, scratch: scratch, panels: packed,
                          keepsGraph: keepsGraph)
            input = UnsafePointer(saved.out)
        }
        let out = call.blocks[call.blocks.count - 1].out
        if let destination { Kernels.copy(out, destination, batchSize * model.config.totalLen * model.config.hiddenSize) }
        return out
    }

    /// Backpropagates dLogits and dQ (set by the loss) through the last forward's gradient-bearing cycle.
    public func backward() throws(TRMError) {
        guard haveGraph else { throw .invalidArgument("backward needs a forward(requiresGrad: true) first") }
        let c = model.config, n = batchSize * c.totalLen * c.hiddenSize
        heads.backward(dLogits: dLogits, dQ: dQ, y: y, weights: model.weights, dW: gradients, dy: dFlow)
        // The y-update: y' = net(y + z_n); the gradient reaching y (detached) is dropped.
        backwardNet(gradCalls[c.lCycles])
        // The z-updates: z_{i+1} = net(z_i + y + x); x collects the gradient of every one.
        Kernels.zero(dX, n)
        for i in stride(from: c.lCycles - 1, through: 0, by: -1) {
            backwardNet(gradCalls[i])
            Kernels.accumulate(dX, dFlow, n)
        }
        embedding.backward(dX, tokens: tokens, timeStep: timeStep, dW: gradients, dPuzzle: puzzleGradients)
        haveGraph = false
    }

    /// dFlow (gradient of the call's output) → gradient of the call's input, in place.
    private func backwardNet(_ call: Call) {
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            let x = l == 0 ? UnsafePointer(call.input) : UnsafePointer(call.blocks[l - 1].out)
            let panels = backwardPanelsCurrent ? backwardPanels.map { p in
                (o: backwardOffsets[l].o.map { UnsafePointer(p + $0) }, down: UnsafePointer(p + backwardOffsets[l].down))
            } : nil
            blocks[l].backward(dFlow, x: x, weights: model.weights, dW: gradients, rope: model.rope,
                               saved: call.blocks[l], scratch: scratch, panels: panels)
        }
    }
}
