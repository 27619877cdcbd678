extension ModelConfig {
    /// A human-readable, one-field-per-line description (used by `trmdis info`).
    public var summary: String {
        """
        vocab_size: \(vocabSize)
        seq_len: \(seqLen)
        puzzle_emb_len: \(puzzleEmbLen)
        puzzle_emb_ndim: \(puzzleEmbDim)
        num_puzzle_identifiers: \(numPuzzleIdentifiers)
        total_len: \(totalLen)
        hidden_size: \(hiddenSize)
        num_heads: \(numHeads)
        expansion: \(expansion)
        mlp_inner: \(mlpInner)
        num_layers: \(numLayers)
        mixer: \(mixer.rawValue)\(mixer == .mlpT ? " (token inner \(tokenMixerInner))" : "")
        pos_encodings: \(posEncoding.rawValue)
        rope_theta: \(ropeTheta)
        rms_norm_eps: \(rmsNormEps)
        T (H_cycles): \(hCycles)
        n (L_cycles): \(lCycles)
        N_sup: \(supervisionSteps)
        time_embedding: \(timeEmbedding)
        net_calls_per_step: \(netCallsPerStep)
        """
    }
}
