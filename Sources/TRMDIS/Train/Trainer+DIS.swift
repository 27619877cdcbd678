/// DIS (dis.md §1.2-§1.11): every mini-batch runs a fixed N_sup supervision steps from a fresh carry;
/// step s gets the learned step-time embedding s and its own target, a corruption of the answer that
/// reveals ⌊s·|D|/N_sup⌋ of the cells D where input and label differ, in one random order per example
/// drawn afresh each time the example is sampled (nested and monotone per cell). No halting head.
extension Trainer {
    func disBatch() throws(TRMError) -> StepSums {
        let c = model.config, b = localBatch, n = c.seqLen, steps = c.supervisionSteps
        for g in 0..<batchSize { draw(globalSlot: g) }
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
        var sums = StepSums()
        for s in 1...steps {
            buildTargets(step: s)
            runner.timeStep = s
            try runner.forward(requiresGrad: true)
            let weight = stepWeight(s)
            // Normalised by the global batch (as the reference), so the ranks' sum is the batch's gradient.
            sums.loss += try Losses.crossEntropy(config.loss, logits: runner.logits, labels: targets, batch: b, seqLen: n,
                                                 vocab: c.vocabSize, gradScale: weight / Float(batchSize),
                                                 dLogits: runner.dLogits)
            if !perBatch { runner.zeroGradients() }
            try runner.backward()
            if perBatch {
                Kernels.accumulate(puzzleGradSum, runner.puzzleGradients, b * c.puzzleEmbDim)
            } else {
                try applyUpdate(puzzleGrads: runner.puzzleGradients)
            }
            Predictions.argmax(runner.logits, cells: b * n, vocab: c.vocabSize, into: predicted)
            if config.feedbackPredictions && s < steps { runner.tokens.update(from: predicted, count: b * n) }
        }
        if perBatch { try applyUpdate(puzzleGrads: puzzleGradSum) }
        for slot in 0..<b {
            let (tokens, exact) = Predictions.score(predicted + slot * n, labels + slot * n, n)
            sums.token += tokens
            sums.exact += exact ? 1 : 0
        }
        sums.finished = Double(b)
        sums.lossDivisor = Double(batchSize * steps)
        sums.netCallsPerExample = Double(runner.netCalls)
        return sums
    }

    /// w_s: 1, or 2s/(N_sup+1) (mean 1) for linearly increasing weights.
    func stepWeight(_ s: Int) -> Float {
        switch config.stepWeights {
        case .constant: return 1
        case .linear: return 2 * Float(s) / Float(model.config.supervisionSteps + 1)
        }
    }

    /// For each slot: D = {t : input ≠ label} (an ignored label differs from any input, as in the official
    /// code), a uniformly random order of D, and the random kernel's replacement tokens. The draws run over
    /// every slot of the global batch, in order, on every rank (a slot of another rank is drawn and dropped),
    /// so an example's order depends on its place in the global batch, not on the number of ranks.
    func drawRevealOrders() {
        let n = model.config.seqLen, vocab = model.config.vocabSize, ex = sampler.examples
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 3 * n) { scratch in
            let cells = scratch.baseAddress!, otherRank = cells + n, otherNoise = cells + 2 * n
            ex.inputs.withUnsafeBufferPointer { allInputs in
            ex.labels.withUnsafeBufferPointer { allLabels in
                for g in 0..<batchSize {
                    let index = Int(batchExamples[g]), local = slice.contains(g), slot = g - slice.lowerBound
                    let x = allInputs.baseAddress! + index * n, y = allLabels.baseAddress! + index * n
                    let rank = local ? revealRank + slot * n : otherRank
                    let noise = local ? noiseTokens + slot * n : otherNoise
                    var d = 0
                    for t in 0..<n {
                        rank[t] = -1
                        if x[t] != y[t] { cells[d] = Int32(t); d += 1 }
                    }
                    // Fisher-Yates over D; a cell's position in the shuffled list is its reveal rank.
                    if d > 1 {
                        for i in stride(from: d - 1, to: 0, by: -1) {
                            let j = rng.below(i + 1)
                            (cells[i], cells[j]) = (cells[j], cells[i])
                        }
                    }
                    for r in 0..<d { rank[Int(cells[r])] = Int32(r) }
                    if local { diffCount[slot] = Int32(d) }
                    if config.corruption == .random {
                        for t in 0..<n { noise[t] = Int32(1 + rng.below(vocab - 1)) }
                    }
                }
            }
            }
        }
    }

    /// targets = path[s]: the label at the first ⌊s·|D|/N_sup⌋ cells of D's order; elsewhere in D the
    /// kernel's value (input, mask token or noise); outside D the label (which equals the input).
    func buildTargets(step s: Int) {
        let n = model.config.seqLen, steps = model.config.supervisionSteps
        for slot in 0..<localBatch {
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
