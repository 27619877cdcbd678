/// Model FLOPs (2 per multiply-add, matrix products only; elementwise work is not counted), as used for
/// "model FLOP/s" in the benchmarks.
extension ModelConfig {
    /// FLOPs of one net call for one example.
    public var flopsPerNetCall: Double {
        let l = Double(totalLen), d = Double(hiddenSize), inner = Double(mlpInner)
        var macs = l * 3 * d * inner  // SwiGLU over D: gate_up (2·inner·D) + down (inner·D)
        switch mixer {
        case .attention:
            macs += l * 4 * d * d       // qkv + o
            macs += 2 * l * l * d       // scores and context, summed over heads
        case .mlpT:
            macs += d * 3 * l * Double(tokenMixerInner)
        }
        return 2 * macs * Double(numLayers)
    }

    /// FLOPs of the output heads for one example.
    public var flopsPerHeads: Double { 2 * Double(seqLen * hiddenSize * vocabSize + 2 * hiddenSize) }

    /// FLOPs of one supervision step for one example: forward only, or forward plus backward (the
    /// backward of the gradient-bearing cycle costs two matrix products per forward one).
    public func flopsPerStep(training: Bool) -> Double {
        let forward = Double(netCallsPerStep) * flopsPerNetCall + flopsPerHeads
        guard training else { return forward }
        return forward + 2 * (Double(lCycles + 1) * flopsPerNetCall + flopsPerHeads)
    }
}
