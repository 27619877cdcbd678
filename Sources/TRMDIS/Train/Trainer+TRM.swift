/// The TRM-ACT baseline (trm.md §2): continuous batching. Each slot keeps its example and carry across
/// optimiser steps until it halts (q_halt > 0, or N_sup steps), with exploration: with probability 0.1 a
/// slot must run at least a uniform 2...N_sup steps. The loss is the token-mean CE plus 0.5·BCE of q_halt
/// against whole-sequence correctness. Unlike the reference, only halted slots draw new examples, so no
/// sampled example is silently discarded (trm.md §8).
extension Trainer {
    func trmStep() throws(TRMError) -> TrainMetrics {
        let c = model.config, b = batchSize, n = c.seqLen, maxSteps = c.supervisionSteps
        for slot in 0..<b where halted[slot] {
            load(example: sampler.next(), into: slot)
            runner.resetCarry(slot: slot)
            slotSteps[slot] = 0
        }
        runner.tokens.update(from: inputs, count: b * n)
        runner.puzzleIds.update(from: slotPuzzleIds, count: b)
        try runner.forward(requiresGrad: true)
        let lm = try Losses.crossEntropy(config.loss, logits: runner.logits, labels: labels, batch: b, seqLen: n,
                                         vocab: c.vocabSize, gradScale: 1 / Float(b), dLogits: runner.dLogits,
                                         perExample: perExample)
        Predictions.argmax(runner.logits, cells: b * n, vocab: c.vocabSize, into: predicted)
        let correct = slotCorrect, tokenScores = slotTokenScore
        for slot in 0..<b {
            let (tokens, exact) = Predictions.score(predicted + slot * n, labels + slot * n, n)
            tokenScores[slot] = tokens
            correct[slot] = exact ? 1 : 0
        }
        var halt = 0.0
        for slot in 0..<b {
            halt += Losses.bceWithLogits(logits: runner.qLogits + slot * 2, targets: correct + slot, count: 1,
                                         gradScale: config.haltLossWeight / Float(b), dLogits: runner.dQ + slot * 2)
            runner.dQ[slot * 2 + 1] = 0  // no continue loss in TRM
        }
        runner.zeroGradients()
        try runner.backward()
        applyUpdate(puzzleGrads: runner.puzzleGradients)

        var m = TrainMetrics()
        m.loss = (lm + Double(config.haltLossWeight) * halt) / Double(b)
        var haltCorrect = 0.0, stepsSum = 0.0
        for slot in 0..<b {
            slotSteps[slot] += 1
            let qHalt = runner.qLogits[slot * 2]
            var stop = slotSteps[slot] >= maxSteps || qHalt > 0
            if Float(rng.uniform()) < config.haltExplorationProb {
                let minimum = 2 + rng.below(max(1, maxSteps - 1))
                stop = stop && slotSteps[slot] >= minimum
            }
            halted[slot] = stop
            guard stop else { continue }
            m.finished += 1
            m.tokenAccuracy += tokenScores[slot]
            m.exactAccuracy += Double(correct[slot])
            haltCorrect += (qHalt >= 0) == (correct[slot] == 1) ? 1 : 0
            stepsSum += Double(slotSteps[slot])
        }
        if m.finished > 0 {
            let f = Double(m.finished)
            m.tokenAccuracy /= f
            m.exactAccuracy /= f
            m.haltAccuracy = haltCorrect / f
            m.meanSteps = stepsSum / f
            m.netCallsPerExample = m.meanSteps! * Double(c.netCallsPerStep)
        }
        return m
    }
}
