/// DIS's target for every supervision step of a batch (docs/model.md: DIS): for each slot, the cells D
/// where input and label differ in one random order, drawn afresh each time the example is sampled; step
/// s reveals the label at the first ⌊s·|D|/N_sup⌋ of them and holds the corruption kernel's value
/// elsewhere in D (nested and monotone per cell; step N_sup is the label).
final class DISTargets {
    /// This step's target, [localBatch, seqLen].
    let targets: UnsafeMutablePointer<Int32>
    /// Each cell's place in its slot's reveal order (-1: input and label agree there).
    let revealRank: UnsafeMutablePointer<Int32>
    /// |D| per slot.
    let diffCount: UnsafeMutablePointer<Int32>
    /// The random kernel's tokens, drawn with the order.
    let noiseTokens: UnsafeMutablePointer<Int32>
    /// Each local slot's example (for the dataset's own targets).
    let slotExamples: UnsafeMutablePointer<Int32>
    let localBatch, seqLen, vocab, steps: Int
    let corruption: TrainingConfig.Corruption
    let maskToken: Int32

    init(localBatch b: Int, model c: ModelConfig, training t: TrainingConfig, arena: Arena) throws(TRMError) {
        localBatch = b
        seqLen = c.seqLen
        vocab = c.vocabSize
        steps = c.supervisionSteps
        corruption = t.corruption
        maskToken = t.maskToken
        targets = try arena.int32s(b * c.seqLen)
        revealRank = try arena.int32s(b * c.seqLen)
        diffCount = try arena.int32s(b)
        noiseTokens = try arena.int32s(b * c.seqLen)
        slotExamples = try arena.int32s(b)
    }

    /// For each slot: D = {t : input ≠ label} (an ignored label differs from any input, as in the official
    /// code), a uniformly random order of D, and the random kernel's replacement tokens. The draws run over
    /// every slot of the global batch, in order, on every rank (a slot of another rank is drawn and dropped),
    /// so an example's order depends on its place in the global batch, not on the number of ranks.
    func drawRevealOrders(examples ex: ExampleSet, batchExamples: UnsafePointer<Int32>, globalBatch batchSize: Int,
                          slice: Range<Int>, rng: inout RNG) {
        let n = seqLen, vocab = self.vocab
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 3 * n) { scratch in
            let cells = scratch.baseAddress!, otherRank = cells + n, otherNoise = cells + 2 * n
            ex.inputs.withUnsafeBufferPointer { allInputs in
            ex.labels.withUnsafeBufferPointer { allLabels in
                for g in 0..<batchSize {
                    let index = Int(batchExamples[g]), local = slice.contains(g), slot = g - slice.lowerBound
                    let x = allInputs.baseAddress! + index * n, y = allLabels.baseAddress! + index * n
                    if local { slotExamples[slot] = Int32(index) }
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
                    if corruption == .random {
                        for t in 0..<n { noise[t] = Int32(1 + rng.below(vocab - 1)) }
                    }
                }
            }
            }
        }
    }

    /// targets = path[s]: the label at the first ⌊s·|D|/N_sup⌋ cells of D's order; elsewhere in D the
    /// kernel's value (input, mask token or noise); outside D the label (which equals the input).
    func build(step s: Int, inputs: UnsafePointer<Int32>, labels: UnsafePointer<Int32>, examples: ExampleSet) {
        let n = seqLen
        if corruption == .dataset, let stored = examples.stepTargets {
            // Row s−1 of N_sup rows, or row s of N_sup + 1 (whose row 0 is the input); Trainer checked the count.
            let rows = examples.stepTargetCount, row = rows == steps ? s - 1 : s
            stored.withUnsafeBufferPointer { all in
                for slot in 0..<localBatch {
                    (targets + slot * n).update(from: all.baseAddress! + (Int(slotExamples[slot]) * rows + row) * n, count: n)
                }
            }
            return
        }
        for slot in 0..<localBatch {
            let revealed = Int32(s * Int(diffCount[slot]) / steps)
            for t in 0..<n {
                let i = slot * n + t, r = revealRank[i]
                if r < 0 || r < revealed {
                    targets[i] = labels[i]
                } else {
                    switch corruption {
                    case .path: targets[i] = inputs[i]
                    case .mask: targets[i] = maskToken
                    case .random: targets[i] = noiseTokens[i]
                    case .dataset: targets[i] = labels[i]  // not reached: handled above
                    }
                }
            }
        }
    }
}
