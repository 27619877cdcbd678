/// DIS (docs/model.md: DIS): every mini-batch runs a fixed N_sup supervision steps from a fresh carry;
/// step s gets the learned step-time embedding s and its own target, a corruption of the answer that
/// reveals ⌊s·|D|/N_sup⌋ of the cells D where input and label differ, in one random order per example
/// drawn afresh each time the example is sampled (nested and monotone per cell). No halting head.
extension Trainer {
    func disBatch() throws(TRMError) -> StepSums {
        let c = model.config, b = localBatch, n = c.seqLen, steps = c.supervisionSteps
        for g in 0..<batchSize { draw(globalSlot: g) }
        dis!.drawRevealOrders(examples: sampler.examples, batchExamples: batchExamples, globalBatch: batchSize,
                              slice: slice, rng: &rng)
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
            dis!.build(step: s, inputs: inputs, labels: labels, examples: sampler.examples)
            runner.timeStep = s
            try runner.forward(requiresGrad: true)
            let weight = stepWeight(s)
            // Normalised by the global batch (as the reference), so the ranks' sum is the batch's gradient.
            sums.loss += try Losses.crossEntropy(config.loss, logits: runner.logits, labels: dis!.targets, batch: b, seqLen: n,
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
}
