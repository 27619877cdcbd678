/// The data-parallel side of a step (GradientReducer.swift). After each backward the dense gradients and
/// the puzzle-embedding rows are summed over the ranks in one call: each rank writes its slots' rows and
/// ids into its own place of a zeroed buffer the size of the global batch, so the sum is a gather, exact
/// and in the global slot order (docs/model.md: TRM-ACT: the reference all-gathers ids and gradients the same way).
/// The step's metric sums (and TRM's halting flags) are summed too, so every rank reports global numbers.
extension Trainer {
    /// Leading floats of `metricBuffer`: loss, token, exact, finished, haltCorrect, steps.
    static let metricCount = 6

    func reduceGradients(puzzleGrads: UnsafePointer<Float>) throws(TRMError) {
        guard let reducer else { return }
        let p = model.parameterCount, global = batchSize, lo = slice.lowerBound
        let dim = sparse == nil ? 0 : model.config.puzzleEmbDim
        let buffer = reduceBuffer
        buffer.update(from: runner.gradients, count: p)
        if dim > 0 {
            let rows = buffer + p, ids = rows + global * dim
            Kernels.zero(rows, global * (dim + 1))
            (rows + lo * dim).update(from: puzzleGrads, count: localBatch * dim)
            for s in 0..<localBatch { ids[lo + s] = Float(slotPuzzleIds[s]) }
        }
        try reducer.allReduceSum(buffer, count: p + global * (dim > 0 ? dim + 1 : 0))
        runner.gradients.update(from: buffer, count: p)
        if dim > 0 {
            let ids = buffer + p + global * dim
            for g in 0..<global { globalPuzzleIds[g] = Int32(ids[g]) }
        }
    }

    /// Sums the step's metrics over the ranks (and, for TRM, gathers which global slots halted), then
    /// turns them into means. Without a reducer the sums stay in double precision.
    func finish(_ sums: StepSums) throws(TRMError) -> TrainMetrics {
        var s = sums
        if let reducer {
            let m = metricBuffer, k = Trainer.metricCount
            m[0] = Float(s.loss); m[1] = Float(s.token); m[2] = Float(s.exact)
            m[3] = Float(s.finished); m[4] = Float(s.haltCorrect); m[5] = Float(s.steps)
            let flags = config.method == .trm ? batchSize : 0
            if flags > 0 {
                Kernels.zero(m + k, flags)
                for g in slice where slots.halted[g] { m[k + g] = 1 }
            }
            try reducer.allReduceSum(m, count: k + flags)
            s.loss = Double(m[0]); s.token = Double(m[1]); s.exact = Double(m[2])
            s.finished = Double(m[3]).rounded(); s.haltCorrect = Double(m[4]); s.steps = Double(m[5])
            for g in 0..<flags { slots.halted[g] = m[k + g] > 0.5 }
        }
        return s.metrics(method: config.method, netCallsPerStep: model.config.netCallsPerStep)
    }
}
