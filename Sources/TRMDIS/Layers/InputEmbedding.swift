/// The input x (docs/model.md: The network, DIS): per example, the puzzle-embedding prefix (the example's row,
/// right-padded with zeros to puzzleEmbLen·D and cut into puzzleEmbLen tokens) followed by the token
/// embeddings of the grid; plus the DIS step-time embedding at every position; with learned positions
/// e ← (e + P)/√2; everything scaled by √D.
struct InputEmbedding {
    let config: ModelConfig
    let batch: Int
    let layout: ParameterLayout
    var scale: Float { Float(config.hiddenSize).squareRoot() }
    static let halfSqrt2: Float = 0.707106781

    /// x[B, L, D] from tokens [B, seqLen] and puzzle ids [B]; `timeStep` indexes the time table.
    func forward(tokens: UnsafePointer<Int32>, puzzleIds: UnsafePointer<Int32>, timeStep: Int,
                 weights w: UnsafePointer<Float>, puzzleTable: UnsafePointer<Float>, x: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, len = c.totalLen, prefix = c.puzzleEmbLen, ndim = c.puzzleEmbDim
        let tokenTable = w + layout.embedTokens
        let time: UnsafePointer<Float>? = c.timeEmbedding ? w + layout.timeEmb + timeStep * d : nil
        let pos: UnsafePointer<Float>? = c.posEncoding == .learned ? w + layout.embedPos : nil
        let scale = self.scale
        let tables = (tokenTable: tokenTable, puzzleTable: puzzleTable, time: time, pos: pos)
        let shape = (d: d, len: len, prefix: prefix, ndim: ndim, seqLen: c.seqLen, scale: scale)
        Threads.pool.parallelFor(batch * len, minimumPerThread: max(1, 4096 / d), (tokens, puzzleIds, x, tables, shape)) {
            args, range in
            let (tokens, puzzleIds, x, tables, shape) = args
            let (tokenTable, puzzleTable, time, pos) = tables
            let (d, len, prefix, ndim, seqLen, scale) = shape
            for row in range {
                let b = row / len, t = row % len
                let xr = x + row * d
                if t < prefix {
                    let puzzleRow = puzzleTable + Int(puzzleIds[b]) * ndim
                    for i in 0..<d { let k = t * d + i; xr[i] = k < ndim ? puzzleRow[k] : 0 }
                } else {
                    let e = tokenTable + Int(tokens[b * seqLen + t - prefix]) * d
                    for i in 0..<d { xr[i] = e[i] }
                }
                if let time { for i in 0..<d { xr[i] += time[i] } }
                if let pos {
                    let p = pos + t * d
                    for i in 0..<d { xr[i] = InputEmbedding.halfSqrt2 * (xr[i] + p[i]) }
                }
                for i in 0..<d { xr[i] *= scale }
            }
        }
    }

    /// Accumulates dW for the token, position and time tables and writes the per-example gradient of
    /// the puzzle-embedding rows into `dPuzzle` [B, puzzleEmbDim] (the sparse optimiser scatters it).
    /// The scatter-adds run in a fixed order, so results are reproducible.
    func backward(_ dx: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, timeStep: Int,
                  dW: UnsafeMutablePointer<Float>, dPuzzle: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize, len = c.totalLen, prefix = c.puzzleEmbLen, ndim = c.puzzleEmbDim
        let g = scale * (c.posEncoding == .learned ? InputEmbedding.halfSqrt2 : 1)
        let dTokens = dW + layout.embedTokens
        let dTime: UnsafeMutablePointer<Float>? = c.timeEmbedding ? dW + layout.timeEmb + timeStep * d : nil
        let dPos: UnsafeMutablePointer<Float>? = c.posEncoding == .learned ? dW + layout.embedPos : nil
        for b in 0..<batch {
            for t in 0..<len {
                let dxr = dx + (b * len + t) * d
                if t < prefix {
                    let dp = dPuzzle + b * ndim
                    for i in 0..<d where t * d + i < ndim { dp[t * d + i] = g * dxr[i] }
                } else {
                    let e = dTokens + Int(tokens[b * c.seqLen + t - prefix]) * d
                    for i in 0..<d { e[i] += g * dxr[i] }
                }
                if let dTime { for i in 0..<d { dTime[i] += g * dxr[i] } }
                if let dPos { let p = dPos + t * d; for i in 0..<d { p[i] += g * dxr[i] } }
            }
        }
    }
}
