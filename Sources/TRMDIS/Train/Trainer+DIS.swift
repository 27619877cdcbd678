/// DIS (dis.md §1.2-§1.11): every mini-batch runs a fixed N_sup supervision steps from a fresh carry;
/// step s gets the learned step-time embedding s and its own target, a corruption of the answer that
/// reveals ⌊s·|D|/N_sup⌋ of the cells D where input and label differ, in one random order per example
/// drawn afresh each time the example is sampled (nested and monotone per cell). No halting head.
extension Trainer {
    func disBatch() throws(TRMError) -> TrainMetrics {
        let c = model.config, b = batchSize, n = c.seqLen, steps = c.supervisionSteps
        for slot in 0..<b { load(example: sampler.next(), into: slot) }
        drawRevealOrders()
        runner.resetCarry()
        (runner.tokens).update(from: inputs, count: b * n)
        runner.puzzleIds.update(from: slotPuzzleIds, count: b)
        for i in 0..<b * 2 { runner.dQ[i] = 0 }
        let perBatch = !config.optimizerStepPerSupervisionStep
        if perBatch {
            runner.zeroGradients()
            Kernels.zero(puzzleGradSum, b * c.puzzleEmbDim)
        }
        var metrics = TrainMetrics()
        var lossSum = 0.0
        for s in 1...steps {
            buildTargets(step: s)
            runner.timeStep = s
            try runner.forward(requiresGrad: true)
            let weight = stepWeight(s)
            lossSum += try Losses.crossEntropy(config.loss, logits: runner.logits, labels: targets, batch: b, seqLen: n,
                                               vocab: c.vocabSize, gradScale: weight / Float(b), dLogits: runner.dLogits)
            if !perBatch { runner.zeroGradients() }
            try runner.backward()
            if perBatch {
                Kernels.accumulate(puzzleGradSum, runner.puzzleGradients, b * c.puzzleEmbDim)
            } else {
                applyUpdate(puzzleGrads: runner.puzzleGradients)
            }
            Predictions.argmax(runner.logits, cells: b * n, vocab: c.vocabSize, into: predicted)
            if config.feedbackPredictions && s < steps { runner.tokens.update(from: predicted, count: b * n) }
        }
        if perBatch { applyUpdate(puzzleGrads: puzzleGradSum) }
        for slot in 0..<b {
            let (tokens, exact) = Predictions.score(predicted + slot * n, labels + slot * n, n)
            metrics.tokenAccuracy += tokens
            metrics.exactAccuracy += exact ? 1 : 0
        }
        metrics.finished = b
        metrics.tokenAccuracy /= Double(b)
        metrics.exactAccuracy /= Double(b)
        metrics.loss = lossSum / Double(b * steps)
        metrics.netCallsPerExample = Double(runner.netCalls)
        return metrics
    }

    /// w_s: 1, or 2s/(N_sup+1) (mean 1) for linearly increasing weights.
    func stepWeight(_ s: Int) -> Float {
        switch config.stepWeights {
        case .constant: return 1
        case .linear: return 2 * Float(s) / Float(model.config.supervisionSteps + 1)
        }
    }

    /// For each slot: D = {t : input ≠ label} (an ignored label differs from any input, as in the official
    /// code), a uniformly random order of D, and the random kernel's replacement tokens.
    func drawRevealOrders() {
        let n = model.config.seqLen, vocab = model.config.vocabSize
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { cells in
            for slot in 0..<batchSize {
                let x = inputs + slot * n, y = labels + slot * n, rank = revealRank + slot * n
                var d = 0
                for t in 0..<n {
                    rank[t] = -1
                    if x[t] != y[t] { cells[d] = Int32(t); d += 1 }
                }
                // Fisher-Yates over D; a cell's position in the shuffled list is its reveal rank.
                if d > 1 {
                    for i in stride(from: d - 1, to: 0, by: -1) {
                        let j = rng.below(i + 1)
                        cells.swapAt(i, j)
                    }
                }
                for r in 0..<d { rank[Int(cells[r])] = Int32(r) }
                diffCount[slot] = Int32(d)
                if config.corruption == .random {
                    for t in 0..<n { noiseTokens[slot * n + t] = Int32(1 + rng.below(vocab - 1)) }
                }
            }
        }
    }

    /// targets = path[s]: the label at the first ⌊s·|D|/N_sup⌋ cells of D's order; elsewhere in D the
    /// kernel's value (input, mask token or noise); outside D the label (which equals the input).
    func buildTargets(step s: Int) {
        let n = model.config.seqLen, steps = model.config.supervisionSteps
        for slot in 0..<batchSize {
            let revealed = Int32(s * Int(diffCount[slot]) / steps)
            for t in 0..<n {
                let i = slot * n + t, r = revealRank[i]
                if r < 0 || r < revealed {
                    targets[i] = labels[i]
                } else {
                    switch config.corruption {
                    case .path: targets[i] = inputs[i]
                    case .mask: targets[i] = config.maskToken
                    case .random: targets[i] = noiseTokens[i]
                    }
                }
            }
        }
    }
}
