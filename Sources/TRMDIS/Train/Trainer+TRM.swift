/// The TRM-ACT baseline (docs/model.md: TRM-ACT): continuous batching. Each slot keeps its example and carry across
/// optimiser steps until it halts (q_halt > 0, or N_sup steps), with exploration: with probability 0.1 a
/// slot must run at least a uniform 2...N_sup steps. The loss is the token-mean CE plus 0.5·BCE of q_halt
/// against whole-sequence correctness. Unlike the reference, only halted slots draw new examples, so no
/// sampled example is silently discarded (docs/model.md: TRM-ACT).
extension Trainer {
    func trmStep() throws(TRMError) -> StepSums {
        let c = model.config, b = localBatch, n = c.seqLen, maxSteps = c.supervisionSteps, lo = slice.lowerBound
        // Halted slots of the global batch draw new examples in slot order on every rank (`slots.halted` is
        // global: Trainer+Reduce.swift gathers it after each step).
        for g in 0..<batchSize where slots.halted[g] {
            guard let slot = draw(globalSlot: g) else { continue }
            runner.resetCarry(slot: slot)
            slots.steps[slot] = 0
        }
        runner.tokens.update(from: inputs, count: b * n)
        runner.puzzleIds.update(from: slotPuzzleIds, count: b)
        try runner.forward(requiresGrad: true)
        // Normalised by the global batch (as the reference), so the ranks' sum is the batch's gradient.
        let lm = try Losses.crossEntropy(config.loss, logits: runner.logits, labels: labels, batch: b, seqLen: n,
                                         vocab: c.vocabSize, gradScale: 1 / Float(batchSize), dLogits: runner.dLogits,
                                         perExample: perExample)
        Predictions.argmax(runner.logits, cells: b * n, vocab: c.vocabSize, into: predicted)
        let correct = slots.correct, tokenScores = slots.tokenScore
        for slot in 0..<b {
            let (tokens, exact) = Predictions.score(predicted + slot * n, labels + slot * n, n)
            tokenScores[slot] = tokens
            correct[slot] = exact ? 1 : 0
        }
        var halt = 0.0
        for slot in 0..<b {
            halt += Losses.bceWithLogits(logits: runner.qLogits + slot * 2, targets: correct + slot, count: 1,
                                         gradScale: config.haltLossWeight / Float(batchSize), dLogits: runner.dQ + slot * 2)
            runner.dQ[slot * 2 + 1] = 0  // no continue loss in TRM
        }
        runner.zeroGradients()
        try runner.backward()
        try applyUpdate(puzzleGrads: runner.puzzleGradients)

        var sums = StepSums()
        sums.loss = lm + Double(config.haltLossWeight) * halt
        sums.lossDivisor = Double(batchSize)
        // The exploration draws of every global slot, in order, on every rank (one stream, whatever the
        // number of ranks); each rank decides its own slots.
        for g in 0..<batchSize {
            var minimum: Int?
            if Float(rng.uniform()) < config.haltExplorationProb { minimum = 2 + rng.below(max(1, maxSteps - 1)) }
            guard slice.contains(g) else { continue }
            let slot = g - lo
            slots.steps[slot] += 1
            let qHalt = runner.qLogits[slot * 2]
            var stop = slots.steps[slot] >= maxSteps || qHalt > 0
            if let minimum { stop = stop && slots.steps[slot] >= minimum }
            slots.halted[g] = stop
            guard stop else { continue }
            sums.finished += 1
            sums.token += tokenScores[slot]
            sums.exact += Double(correct[slot])
            sums.haltCorrect += (qHalt >= 0) == (correct[slot] == 1) ? 1 : 0
            sums.steps += Double(slots.steps[slot])
        }
        return sums
    }
}
