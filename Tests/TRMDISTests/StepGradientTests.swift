import Testing
@testable import TRMDIS
@testable import TRMDISTasks

/// A whole supervision step against finite differences: every weight tensor, the puzzle-embedding rows
/// (and through the token embedding, x). With T > 1 the first T−1 cycles carry no gradient, so the
/// numeric derivative is taken with those cycles' output held fixed: a second model with T = 1 and the
/// same weights starts from the carry that the first T−1 cycles produce. Tolerance: relative error < 1e-2.
@Suite struct StepGradientTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let config: ModelConfig
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "attention+rope, prefix, T 2", config: ModelConfig(
            vocabSize: 5, seqLen: 5, puzzleEmbLen: 2, numPuzzleIdentifiers: 3, hiddenSize: 8, numHeads: 2,
            expansion: 2, numLayers: 2, hCycles: 2, lCycles: 2)),
        Case(name: "attention+learned, no prefix, time embedding, T 2", config: ModelConfig(
            vocabSize: 4, seqLen: 6, puzzleEmbLen: 0, numPuzzleIdentifiers: 0, hiddenSize: 8, numHeads: 2,
            expansion: 2, numLayers: 1, posEncoding: .learned, hCycles: 2, lCycles: 3, supervisionSteps: 3,
            timeEmbedding: true)),
        Case(name: "mlp_t, prefix, T 3", config: ModelConfig(
            vocabSize: 5, seqLen: 5, puzzleEmbLen: 2, numPuzzleIdentifiers: 3, hiddenSize: 8, numHeads: 2,
            expansion: 2, numLayers: 2, mixer: .mlpT, posEncoding: .none, hCycles: 3, lCycles: 2)),
        Case(name: "mlp_t, no prefix, T 1", config: ModelConfig(
            vocabSize: 5, seqLen: 6, puzzleEmbLen: 0, numPuzzleIdentifiers: 0, hiddenSize: 8, numHeads: 2,
            expansion: 2, numLayers: 1, mixer: .mlpT, posEncoding: .none, hCycles: 1, lCycles: 2)),
    ]

    @Test(arguments: cases) func supervisionStep(_ testCase: Case) throws {
        var g = GradCheck()
        let c = testCase.config, batch = 2
        var lastCycle = c
        lastCycle.hCycles = 1
        var freeCycles = c
        freeCycles.hCycles = max(1, c.hCycles - 1)
        let full = try Model(config: c, seed: 11)
        let last = try Model(config: lastCycle, seed: 11)
        let free = try Model(config: freeCycles, seed: 11)
        // Non-trivial q_head and puzzle rows so every path carries gradient.
        let qSpec = try #require(full.layout.spec(named: "q_head.weight"))
        g.fill(full.weights + qSpec.offset, qSpec.count)
        g.fill(full.puzzleEmbedding, c.numPuzzleIdentifiers * c.puzzleEmbDim)
        for m in [last, free] {
            m.weights.update(from: full.weights, count: full.layout.total)
            m.puzzleEmbedding.update(from: full.puzzleEmbedding, count: c.numPuzzleIdentifiers * c.puzzleEmbDim)
        }
        let runFull = try Runner(model: full, batchSize: batch)
        let runLast = try Runner(model: last, batchSize: batch)
        let runFree = try Runner(model: free, batchSize: batch)
        let n = batch * c.totalLen * c.hiddenSize
        let y0 = Buffer(n), z0 = Buffer(n)
        g.fill(y0.p, n, scale: 1.5); g.fill(z0.p, n, scale: 1.5)
        var labels = [Int32](repeating: 0, count: batch * c.seqLen)
        for r in [runFull, runLast, runFree] {
            for i in 0..<batch * c.seqLen { r.tokens[i] = Int32(i * 7 % c.vocabSize) }
            for b in 0..<batch { r.puzzleIds[b] = Int32(b + 1) % Int32(max(c.numPuzzleIdentifiers, 1)) }
            r.timeStep = 2
        }
        for i in 0..<labels.count { labels[i] = i % 5 == 3 ? Losses.ignoreLabel : Int32((i * 3 + 1) % c.vocabSize) }
        let qTargets: [Float] = [1, 0, 0, 1]

        /// stablemax CE + 0.5·BCE on both q outputs, with the reference's 1/batch scaling.
        func loss(_ r: Runner, grad: Bool) throws -> Double {
            let scale = 1 / Float(batch)
            let lm = try Losses.crossEntropy(.stablemax, logits: r.logits, labels: labels, batch: batch,
                                             seqLen: c.seqLen, vocab: c.vocabSize, gradScale: scale,
                                             dLogits: grad ? r.dLogits : nil)
            let q = Losses.bceWithLogits(logits: r.qLogits, targets: qTargets, count: 2 * batch,
                                         gradScale: 0.5 * scale, dLogits: grad ? r.dQ : nil)
            return (lm + 0.5 * q) / Double(batch)
        }

        // Analytic gradient from the full step.
        runFull.y.update(from: y0.p, count: n); runFull.z.update(from: z0.p, count: n)
        try runFull.forward(requiresGrad: true)
        _ = try loss(runFull, grad: true)
        runFull.zeroGradients()
        try runFull.backward()

        // The carry entering the gradient-bearing cycle.
        let yStart = Buffer(n), zStart = Buffer(n)
        yStart.copy(from: y0); zStart.copy(from: z0)
        if c.hCycles > 1 {
            runFree.y.update(from: y0.p, count: n); runFree.z.update(from: z0.p, count: n)
            try runFree.forward(requiresGrad: false)
            yStart.p.update(from: runFree.y, count: n); zStart.p.update(from: runFree.z, count: n)
        }
        func numericLoss() -> Double {
            runLast.y.update(from: yStart.p, count: n); runLast.z.update(from: zStart.p, count: n)
            try! runLast.forward(requiresGrad: false)
            return try! loss(runLast, grad: false)
        }
        // Same function at the unperturbed point: T−1 free cycles + one cycle = the full step.
        let reference = try loss(runFull, grad: false)
        #expect(abs(numericLoss() - reference) <= 1e-5 * max(1, abs(reference)))

        for spec in last.layout.specs {
            let err = g.relativeError(param: last.weights + spec.offset, count: spec.count,
                                      analytic: runFull.gradients + spec.offset, samples: 12, eps: 1e-2, loss: numericLoss)
            #expect(err < 1e-2, "\(spec.name): relative error \(err)")
        }
        for b in 0..<batch where c.puzzleEmbLen > 0 {
            let row = Int(runLast.puzzleIds[b]) * c.puzzleEmbDim
            let err = g.relativeError(param: last.puzzleEmbedding + row, count: c.puzzleEmbDim,
                                      analytic: runFull.puzzleGradients + b * c.puzzleEmbDim, samples: 12, eps: 1e-2,
                                      loss: numericLoss)
            #expect(err < 1e-2, "puzzle row of example \(b): relative error \(err)")
        }
    }

    /// Forward with and without the graph computes the same numbers.
    @Test func gradientModeDoesNotChangeOutputs() throws {
        let c = Self.cases[0].config
        let model = try Model(config: c, seed: 2)
        let a = try Runner(model: model, batchSize: 2), b = try Runner(model: model, batchSize: 2)
        for r in [a, b] { for i in 0..<2 * c.seqLen { r.tokens[i] = Int32(i % c.vocabSize) } }
        try a.forward(requiresGrad: true)
        try b.forward(requiresGrad: false)
        for i in 0..<2 * c.seqLen * c.vocabSize { #expect(a.logits[i] == b.logits[i]) }
        #expect(a.netCalls == c.hCycles * (c.lCycles + 1))
    }
}
