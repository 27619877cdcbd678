/// TRM's continuous batching keeps a carry and an example in every slot across steps; with data-parallel
/// ranks each rank holds its slice. Checkpoints hold the global batch, so they are gathered here (one sum
/// all-reduce per tensor into a zeroed global buffer, at checkpoint time only) and sliced on resume.
extension Trainer {
    struct SlotState {
        var y: [Float], z: [Float]
        var inputs: [Int32], labels: [Int32], puzzleIds: [Int32], steps: [Int32]
    }

    /// The global batch's slot state (a collective when there is a reducer: every rank calls it).
    func gatherSlots() throws(TRMError) -> SlotState {
        let c = model.config, carry = c.totalLen * c.hiddenSize, n = c.seqLen
        var steps = slots.steps.map { Int32($0) }
        return SlotState(y: try gather(runner.y, width: carry), z: try gather(runner.z, width: carry),
                         inputs: try gather(inputs, width: n), labels: try gather(labels, width: n),
                         puzzleIds: try gather(slotPuzzleIds, width: 1), steps: try gather(&steps, width: 1))
    }

    /// This rank's [localBatch, width] rows placed at its slice of a [batchSize, width] buffer, summed over
    /// the ranks: every rank's rows in one array.
    private func gather(_ local: UnsafePointer<Float>, width: Int) throws(TRMError) -> [Float] {
        var all = [Float](repeating: 0, count: batchSize * width)
        all.withUnsafeMutableBufferPointer { ($0.baseAddress! + slice.lowerBound * width).update(from: local, count: localBatch * width) }
        if let reducer { try reducer.allReduceSum(&all, count: all.count) }
        return all
    }

    /// The same for int32 rows (token ids, -100, puzzle ids below 2^24, step counts: exact as floats).
    private func gather(_ local: UnsafePointer<Int32>, width: Int) throws(TRMError) -> [Int32] {
        let floats = (0..<localBatch * width).map { Float(local[$0]) }
        return try gather(floats, width: width).map { Int32($0) }
    }

    /// Reads the global slot state of a checkpoint and keeps this rank's slice.
    func restoreSlots(_ st: SafeTensors, file path: String) throws(TRMError) {
        let c = model.config, global = batchSize, carry = c.totalLen * c.hiddenSize, n = c.seqLen
        let lo = slice.lowerBound, b = localBatch
        var y = [Float](repeating: 0, count: global * carry), z = y
        try st.read("carry.y", into: &y, shape: [global, c.totalLen, c.hiddenSize], file: path)
        try st.read("carry.z", into: &z, shape: [global, c.totalLen, c.hiddenSize], file: path)
        var tokens = [Int32](repeating: 0, count: global * n), answers = tokens
        try st.read("slots.inputs", into: &tokens, shape: [global, n], file: path)
        try st.read("slots.labels", into: &answers, shape: [global, n], file: path)
        var ids = [Int32](repeating: 0, count: global), steps = ids, stop = ids
        try st.read("slots.puzzle_ids", into: &ids, shape: [global], file: path)
        try st.read("slots.steps", into: &steps, shape: [global], file: path)
        try st.read("slots.halted", into: &stop, shape: [global], file: path)
        // Values a crafted file could hold that training would otherwise take in silently or trap on.
        guard y.allSatisfy(\.isFinite), z.allSatisfy(\.isFinite) else { throw .format("\(path): the carry holds a value that is not finite") }
        guard tokens.allSatisfy({ $0 >= 0 && Int($0) < c.vocabSize }),
              answers.allSatisfy({ ($0 >= 0 && Int($0) < c.vocabSize) || $0 == Losses.ignoreLabel }) else {
            throw .format("\(path): a slot holds a token outside the vocabulary [0, \(c.vocabSize))")
        }
        guard c.puzzleEmbLen == 0 || ids.allSatisfy({ $0 >= 0 && Int($0) < c.numPuzzleIdentifiers }),
              steps.allSatisfy({ $0 >= 0 && Int($0) <= c.supervisionSteps }), stop.allSatisfy({ $0 == 0 || $0 == 1 }) else {
            throw .format("\(path): a slot's puzzle id, step count or halted flag is out of range")
        }
        for i in 0..<b * carry { runner.y[i] = y[lo * carry + i]; runner.z[i] = z[lo * carry + i] }
        for i in 0..<b * n { inputs[i] = tokens[lo * n + i]; labels[i] = answers[lo * n + i] }
        for s in 0..<b { slotPuzzleIds[s] = ids[lo + s]; slots.steps[s] = Int(steps[lo + s]) }
        slots.halted = stop.map { $0 != 0 }
    }
}
